package io.shadowmmu.emulator.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.shadowmmu.emulator.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The cluster-vms scenario, small: VMs and GRU devices spread by sharding, a node leaves, every read checked, clean
 * verdict.
 */
class ClusterVmsScenarioTest {

    @Test
    void vmsSpreadMoveWhenANodeLeavesAndTheRunIsClean(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("v.json");
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int exit;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            exit = Main.commandLine().execute("run", "--scenario", "cluster-vms", "--ops", "1200", "--seed", "7",
                    "-q", "--no-report", "--json", json.toString());
        } finally {
            System.setOut(old);
        }
        String printed = out.toString(StandardCharsets.UTF_8);
        String report = java.nio.file.Files.exists(json) ? java.nio.file.Files.readString(json) : "(no report)";
        assertThat(exit).as(printed + report).isZero();
        assertThat(printed).contains("oracle: clean");
        JsonNode tree = new ObjectMapper().readTree(json.toFile());
        assertThat(tree.at("/oracle/clean").asBoolean()).isTrue();
        assertThat(tree.at("/vms/nodesUsed").asInt()).as("VMs on more than one node").isGreaterThan(1);
        assertThat(tree.at("/vms/moves").asLong()).as("the leaving node's VMs moved").isPositive();
        assertThat(tree.at("/accesses/wrong").asLong()).isZero();
        assertThat(tree.at("/accesses/ok").asLong()).isPositive();
        assertThat(tree.at("/frames/leaked").asLong()).isZero();
        assertThat(tree.at("/gru/jobs").asLong()).as("GRU jobs ran beside the VMs").isPositive();
        assertThat(tree.at("/gru/checkedReads").asLong()).as("GRU reads checked").isPositive();
        assertThat(tree.at("/gru/staleReads").asLong()).isZero();
    }
}
