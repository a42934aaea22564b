package io.shadowmmu.emulator.docs;

import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Generates {@code docs/CONFIG.md}, the configuration reference, from every module's {@code reference.conf}: one
 * section per module (in the root pom's module order), one row per key with its default and the comment above it.
 * The files themselves stay the source of truth; a test fails when the document no longer matches them.
 */
public final class ConfigReference {
    /** Where the document lives, relative to the repository root. */
    public static final String DOCUMENT = "docs/CONFIG.md";
    /** How to regenerate it (named by the test that checks it). */
    public static final String REGENERATE = "./shadowmmu config-doc > " + DOCUMENT;

    private static final Pattern MODULE = Pattern.compile("<module>([^<]+)</module>");
    private static final String ROOT_KEY = "shadowmmu";

    private ConfigReference() {
    }

    /** The Markdown document for the repository at {@code root}. */
    public static String generate(Path root) throws IOException {
        Path pom = root.resolve("pom.xml");
        if (!Files.isRegularFile(pom)) {
            throw new IOException(root.toAbsolutePath().normalize() + " is not the repository root (no pom.xml)");
        }
        StringBuilder out = new StringBuilder();
        out.append("# Configuration reference\n\n")
                .append("Generated from each module's `src/main/resources/reference.conf` by `")
                .append(REGENERATE).append("`; do not edit by hand (a test compares the two).\n\n")
                .append("Every key lives under `shadowmmu`. Override one on the command line with `--set key=value`")
                .append(" (keys relative to `shadowmmu`, e.g. `--set notifier.strategy=range`), or in an")
                .append(" `application.conf`. Sizes take `k`/`m`/`g` suffixes, durations `ms`/`s`/`m`;")
                .append(" an unknown key or a bad value is rejected with the key, the value and the rule.\n");
        Matcher m = MODULE.matcher(Files.readString(pom, StandardCharsets.UTF_8));
        while (m.find()) {
            String module = m.group(1).trim();
            Path conf = root.resolve(module).resolve("src/main/resources/reference.conf");
            if (!Files.isRegularFile(conf)) {
                continue;
            }
            ConfigObject parsed = ConfigFactory.parseFile(conf.toFile(),
                    ConfigParseOptions.defaults().setAllowMissing(false)).root();
            ConfigValue top = parsed.get(ROOT_KEY);
            if (!(top instanceof ConfigObject)) {
                continue;
            }
            out.append("\n## ").append(module).append("\n\n")
                    .append("From `").append(module).append("/src/main/resources/reference.conf`.\n");
            section(out, (ConfigObject) top, "");
        }
        return out.toString();
    }

    /** One table per object that holds plain values; nested objects get their own heading. */
    private static void section(StringBuilder out, ConfigObject object, String prefix) {
        List<Map.Entry<String, ConfigValue>> entries = inFileOrder(object);
        boolean table = false;
        for (Map.Entry<String, ConfigValue> e : entries) {
            ConfigValue v = e.getValue();
            if (v.valueType() == ConfigValueType.OBJECT) {
                continue;
            }
            if (!table) {
                out.append("\n| key | default | meaning |\n|---|---|---|\n");
                table = true;
            }
            out.append("| `").append(prefix).append(e.getKey()).append("` | `").append(render(v)).append("` | ")
                    .append(cell(comment(v))).append(" |\n");
        }
        for (Map.Entry<String, ConfigValue> e : entries) {
            ConfigValue v = e.getValue();
            if (v.valueType() != ConfigValueType.OBJECT) {
                continue;
            }
            String path = prefix + e.getKey();
            out.append("\n### `").append(path).append("`\n");
            String about = comment(v);
            if (!about.isEmpty()) {
                out.append("\n").append(about).append("\n");
            }
            section(out, (ConfigObject) v, path + ".");
        }
    }

    private static List<Map.Entry<String, ConfigValue>> inFileOrder(ConfigObject object) {
        List<Map.Entry<String, ConfigValue>> entries = new ArrayList<>(object.entrySet());
        entries.sort(Comparator.comparingInt(e -> e.getValue().origin().lineNumber()));
        return entries;
    }

    private static String render(ConfigValue v) {
        return v.valueType() == ConfigValueType.STRING ? String.valueOf(v.unwrapped())
                : v.render(ConfigRenderOptions.concise());
    }

    private static String comment(ConfigValue v) {
        List<String> lines = new ArrayList<>();
        for (String c : v.origin().comments()) {
            lines.add(c.strip());
        }
        return String.join(" ", lines).strip();
    }

    private static String cell(String text) {
        return text.replace("|", "\\|");
    }

    /** Prints the document for the repository at the working directory (or the one given). */
    public static void main(String[] args) throws IOException {
        System.out.print(generate(Path.of(args.length > 0 ? args[0] : ".")));
    }
}
