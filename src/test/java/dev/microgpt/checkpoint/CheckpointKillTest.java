package dev.microgpt.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A writer killed with SIGKILL at any moment leaves a loadable checkpoint: another JVM rewrites a 64-wide
 * checkpoint in a loop and is killed at random moments, most of them in the middle of a write.
 */
class CheckpointKillTest {

    private static final long SEED = 40;
    private static final int KILLS = 6;

    @TempDir
    Path dir;

    @Test
    void aWriterKilledAtAnyMomentLeavesALoadableCheckpoint() throws IOException, InterruptedException {
        Path path = dir.resolve("run.ckpt");
        Checkpoint expected = TestCheckpoints.random(TestCheckpoints.WIDE, DType.F64, SEED);
        CheckpointFile.write(path, TestCheckpoints.atStep(expected, 0));
        Random random = new Random(SEED);

        for (int kill = 0; kill < KILLS; kill++) {
            Process writer = startRewriter(path);
            try {
                BufferedReader out = new BufferedReader(new InputStreamReader(writer.getInputStream(),
                        StandardCharsets.UTF_8));
                assertNotNull(out.readLine(), "the writer completed a first write");
                Thread.sleep(random.nextInt(60)); // a write takes some milliseconds: most kills land inside one
            } finally {
                writer.destroyForcibly(); // SIGKILL on POSIX: no shutdown hooks, no finally blocks
                writer.waitFor();
            }

            Checkpoint read = CheckpointFile.read(path);

            assertEquals(TestCheckpoints.atStep(expected, read.step()), read, "kill " + kill);
        }
        try (Stream<Path> files = Files.list(dir)) {
            List<Path> leftovers = files.filter(p -> !p.equals(path)).toList();
            assertTrue(leftovers.stream().allMatch(p -> p.getFileName().toString().startsWith(".run.ckpt.tmp-")),
                    () -> "only a killed write's temporary files remain beside the checkpoint: " + leftovers);
        }
        assertArrayEquals(expected.params(), CheckpointFile.read(path).params());
    }

    private static Process startRewriter(Path path) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                CheckpointRewriter.class.getName(), path.toString(), Long.toString(SEED))
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
    }
}
