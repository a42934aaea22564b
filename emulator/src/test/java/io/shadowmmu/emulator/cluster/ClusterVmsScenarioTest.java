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
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The cluster-vms scenario, small: VMs and GRU devices spread by sharding, driven from every node, a node leaves,
 * every read checked, clean verdict; with imported guest RAM (which moves with its VM); and with the node killed.
 */
class ClusterVmsScenarioTest {

    @Test
    void vmsSpreadMoveWhenANodeLeavesAndTheRunIsClean(@TempDir Path dir) throws Exception {
        JsonNode tree = run(dir);
        assertThat(tree.at("/vms/nodesUsed").asInt()).as("VMs on more than one node").isGreaterThan(1);
        assertThat(tree.at("/vms/moves").asLong()).as("the leaving node's VMs moved").isPositive();
        assertThat(tree.at("/accesses/local").asLong()).as("each node drives the VMs placed on it")
                .isEqualTo(tree.at("/accesses/ok").asLong());
        assertThat(tree.at("/gru/jobs").asLong()).as("GRU jobs ran beside the VMs").isPositive();
        assertThat(tree.at("/gru/checkedReads").asLong()).as("GRU reads checked").isPositive();
        assertThat(tree.at("/gru/staleReads").asLong()).isZero();
    }

    @Test
    void importedGuestRamMovesWithItsVmWhenANodeLeaves(@TempDir Path dir) throws Exception {
        JsonNode tree = run(dir, "--set", "cluster.vms-scenario.imported-ram=on", "--set",
                "cluster.vms-scenario.gru-devices=0");
        assertThat(tree.at("/vms/moves").asLong()).as("the leaving node's VMs moved").isPositive();
        assertThat(tree.at("/accesses/unchecked").asLong())
                .as("a graceful move writes the guest's RAM back: every read after it is checked").isZero();
        assertThat(tree.at("/importedRam/writtenBack").asLong()).isPositive();
        assertThat(tree.at("/importedRam/remoteWordAccesses").asLong()).as("no per-word remote access").isZero();
    }

    @Test
    void importedGuestRamSurvivesMovesAndAKilledNodesImportsAreFenced(@TempDir Path dir) throws Exception {
        JsonNode tree = run(dir, "--set", "cluster.vms-scenario.imported-ram=on", "--set",
                "cluster.vms-scenario.kill=on", "--set", "cluster.vms-scenario.gru-devices=0");
        assertThat(tree.at("/killed").asBoolean()).isTrue();
        assertThat(tree.at("/vms/moves").asLong()).as("the killed node's VMs moved").isPositive();
        assertThat(tree.at("/importedRam/pagesCopied").asLong()).isPositive();
        assertThat(tree.at("/importedRam/writtenBack").asLong()).as("guest writes went back").isPositive();
        assertThat(tree.at("/importedRam/migrations").asLong()).isPositive();
        assertThat(tree.at("/importedRam/remoteWordAccesses").asLong()).as("no per-word remote access").isZero();
        assertThat(tree.at("/importedRam/fencedByDeadline").asLong()
                + tree.at("/importedRam/fencedByNodeLoss").asLong()).as("the killed node's imports fenced")
                .isPositive();
    }

    private static JsonNode run(Path dir, String... extra) throws Exception {
        Path json = dir.resolve("v.json");
        List<String> args = new ArrayList<>(List.of("run", "--scenario", "cluster-vms", "--ops", "1200", "--seed",
                "7", "-q", "--no-report", "--json", json.toString()));
        args.addAll(List.of(extra));
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int exit;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            exit = Main.commandLine().execute(args.toArray(new String[0]));
        } finally {
            System.setOut(old);
        }
        String printed = out.toString(StandardCharsets.UTF_8);
        String report = java.nio.file.Files.exists(json) ? java.nio.file.Files.readString(json) : "(no report)";
        assertThat(exit).as(printed + report).isZero();
        assertThat(printed).contains("oracle: clean");
        JsonNode tree = new ObjectMapper().readTree(json.toFile());
        assertThat(tree.at("/oracle/clean").asBoolean()).isTrue();
        assertThat(tree.at("/accesses/wrong").asLong()).isZero();
        assertThat(tree.at("/accesses/ok").asLong()).isPositive();
        assertThat(tree.at("/frames/leaked").asLong()).isZero();
        return tree;
    }
}
