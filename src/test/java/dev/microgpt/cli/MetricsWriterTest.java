package dev.microgpt.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The metrics file across a resume: the rows it keeps, the losses it gives the plot, the training time it goes on from. */
class MetricsWriterTest {

    @TempDir
    Path dir;

    private final Random random = new Random();

    @Test
    void aResumeKeepsTheRowsUpToItsStepAndGivesThePlotTheirLossesWithoutAGap() throws Exception {
        double[] losses = random.doubles(12, 1, 4).toArray(); // [step - 1]
        StringBuilder file = new StringBuilder(MetricsWriter.HEADER + "\n");
        for (int step = 1; step <= 12; step++) {
            if (step != 3) { // a gap: the plot takes the steps after it
                file.append(row(step, losses[step - 1], step * 1.5));
            }
        }
        file.append("13,2.0,0.0"); // half a row, written by a run killed after its checkpoint
        Path path = dir.resolve("m.csv");
        Files.writeString(path, file, StandardCharsets.UTF_8);

        try (MetricsWriter metrics = MetricsWriter.open(path, 10, Double.NaN)) {
            assertEquals(4, metrics.kept().firstStep());
            assertArrayEquals(Arrays.copyOfRange(losses, 3, 10), metrics.kept().losses());
        }
        List<String> rows = Files.readAllLines(path);
        assertEquals(10, rows.size(), "the header and steps 1, 2 and 4 to 10: " + rows);
        assertEquals(row(10, losses[9], 15.0).strip(), rows.get(9));
    }

    @Test
    void elapsedTimeGoesOnFromTheResumedStepsRow() throws Exception {
        Path path = dir.resolve("m.csv");
        Files.writeString(path, MetricsWriter.HEADER + "\n" + row(1, 3.3, 7.25) + row(2, 3.2, 12.345), StandardCharsets.UTF_8);
        Throughput session = new Throughput(1);
        session.add(5, 2_000_000); // 2 ms into this session
        try (MetricsWriter metrics = MetricsWriter.open(path, 2, Double.NaN)) {
            metrics.record(3, 3.1, 0.009, session);
        }
        String[] third = Files.readAllLines(path).get(3).split(",");
        assertEquals("3", third[0]);
        assertEquals(14.345, Double.parseDouble(third[3]), 1e-9);
    }

    /** The kept rows replace the file whole, through its real path: a link to it stays a link, and nothing is left. */
    @Test
    void aResumeRewritesTheFileBehindALinkAndLeavesNoPartialFile() throws Exception {
        Path runs = Files.createDirectory(dir.resolve("runs"));
        Path real = runs.resolve("m.csv");
        Files.writeString(real, MetricsWriter.HEADER + "\n" + row(1, 3.3, 1.0) + row(2, 3.2, 2.0) + row(3, 3.1, 3.0),
                StandardCharsets.UTF_8);
        Path link = Files.createSymbolicLink(dir.resolve("m.csv"), real);
        try (MetricsWriter metrics = MetricsWriter.open(link, 2, Double.NaN)) {
            metrics.record(3, 3.0, 0.009, new Throughput(1));
        }
        assertTrue(Files.isSymbolicLink(link));
        assertEquals(List.of(MetricsWriter.HEADER, row(1, 3.3, 1.0).strip(), row(2, 3.2, 2.0).strip()),
                Files.readAllLines(real).subList(0, 3));
        assertEquals("3,3.0,", Files.readAllLines(real).get(3).substring(0, 6));
        try (var files = Files.list(runs)) {
            assertEquals(List.of(real), files.toList());
        }
    }

    @Test
    void aNewRunKeepsNothing() throws Exception {
        Path path = dir.resolve("m.csv");
        try (MetricsWriter metrics = MetricsWriter.open(path, -1, Double.NaN)) {
            assertEquals(1, metrics.kept().firstStep());
            assertEquals(0, metrics.kept().losses().length);
        }
        assertEquals(List.of(MetricsWriter.HEADER), Files.readAllLines(path));
    }

    @Test
    void contentsTellRowsFromNothingAndFromAnythingElse() throws Exception {
        Path path = dir.resolve("m.csv");
        assertEquals(OutputFile.Contents.NOTHING, MetricsWriter.contents(path), "missing");
        Files.writeString(path, "");
        assertEquals(OutputFile.Contents.NOTHING, MetricsWriter.contents(path), "empty");
        Files.writeString(path, MetricsWriter.HEADER + "\n");
        assertEquals(OutputFile.Contents.NOTHING, MetricsWriter.contents(path), "a header alone");
        Files.writeString(path, MetricsWriter.HEADER + "\n" + row(1, 3.3, 1.0));
        assertEquals(OutputFile.Contents.OUTPUT, MetricsWriter.contents(path), "rows");
        Files.writeString(path, "step,loss\n1,3.3\n");
        assertEquals(OutputFile.Contents.OTHER, MetricsWriter.contents(path), "another header");
        Files.write(path, new byte[] {(byte) 0xff, (byte) 0xfe, 0, 1});
        assertEquals(OutputFile.Contents.OTHER, MetricsWriter.contents(path), "not text");
        assertEquals(OutputFile.Contents.NOTHING, MetricsWriter.contents(Path.of("/dev/null")), "a device");
        assumeFalse("root".equals(System.getProperty("user.name")), "root reads any file");
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("-w-------"));
        assertEquals(OutputFile.Contents.UNREADABLE, MetricsWriter.contents(path), "unreadable");
    }

    private static String row(int step, double loss, double elapsedMs) {
        return step + "," + loss + ",0.01," + elapsedMs + ",100,700\n";
    }
}
