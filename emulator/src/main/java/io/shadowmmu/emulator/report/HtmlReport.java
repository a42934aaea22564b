package io.shadowmmu.emulator.report;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Writes a run's report directory: {@code result.json} and {@code index.html}, a page that needs nothing but itself:
 * the charting library (Chart.js, from its webjar on the classpath) and the result are inlined, so it opens from a
 * file with no network. The page draws what the result has: throughput and TLB hit rate over time, the ack latency
 * histogram, messages per invalidated page by strategy, faults and violations over time. When its script is done
 * it sets {@code data-charts} (charts drawn) and {@code data-expected} (charts it meant to draw) on the body, and
 * counts script errors in {@code data-errors}.
 */
public final class HtmlReport {
    public static final String PAGE = "index.html";
    public static final String JSON = "result.json";

    private static final String TEMPLATE = "/io/shadowmmu/emulator/report/index.html";
    private static final String WEBJAR = "META-INF/resources/webjars/chart.js/";
    private static final String WEBJAR_POM = "/META-INF/maven/org.webjars.npm/chart.js/pom.properties";
    private static final Pattern CLOSING_SCRIPT = Pattern.compile("(?i)</(script)");

    private HtmlReport() {
    }

    /** Writes both files into {@code dir} (created if needed) and returns the page's path. */
    public static Path write(Path dir, Map<String, Object> tree, List<String> summary) throws IOException {
        Files.createDirectories(dir);
        JsonReport.write(dir.resolve(JSON), tree);
        String page = resource(TEMPLATE)
                .replace("@@TITLE@@", escapeHtml(String.valueOf(tree.get("scenario"))))
                .replace("@@RESULT@@", inScript(JsonReport.toJson(tree)))
                .replace("@@SUMMARY@@", inScript(JsonReport.toJson(summary)))
                // Last: the library's text must not be searched for the placeholders above.
                .replace("@@CHARTJS@@", inScript(chartJs()));
        Path file = dir.resolve(PAGE);
        Files.writeString(file, page, StandardCharsets.UTF_8);
        return file;
    }

    /** The Chart.js UMD bundle from the webjar the emulator depends on. */
    static String chartJs() throws IOException {
        Properties pom = new Properties();
        try (InputStream in = HtmlReport.class.getResourceAsStream(WEBJAR_POM)) {
            if (in == null) {
                throw new IOException("the Chart.js webjar is not on the classpath (" + WEBJAR_POM + ")");
            }
            pom.load(in);
        }
        return resource("/" + WEBJAR + pom.getProperty("version") + "/dist/chart.umd.js");
    }

    private static String resource(String name) throws IOException {
        try (InputStream in = HtmlReport.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IOException("missing resource " + name);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** Text placed inside a script element must not close it early. */
    private static String inScript(String text) {
        return CLOSING_SCRIPT.matcher(text).replaceAll(Matcher.quoteReplacement("<\\/") + "$1");
    }

    private static String escapeHtml(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
