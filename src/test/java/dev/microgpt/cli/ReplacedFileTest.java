package dev.microgpt.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An output written whole or not at all: the previous contents survive a failure, and a link stays a link. */
class ReplacedFileTest {

    @TempDir
    Path dir;

    private final Random random = new Random();

    @Test
    void aWriteThatFailsLeavesThePreviousContentsAndNoPartialFile() throws Exception {
        Path file = dir.resolve("loss.png");
        byte[] before = bytes(1000);
        Files.write(file, before);
        IOException thrown = assertThrows(IOException.class, () -> ReplacedFile.write(file, out -> {
            out.write(bytes(500));
            throw new IOException("disk full");
        }));
        assertEquals("disk full", thrown.getMessage());
        assertArrayEquals(before, Files.readAllBytes(file));
        assertEquals(List.of(file), list());
    }

    @Test
    void aLinkStaysALinkAndItsTargetIsReplacedEvenBeforeItExists() throws Exception {
        Path runs = Files.createDirectory(dir.resolve("runs"));
        Path link = Files.createSymbolicLink(dir.resolve("loss.png"), runs.resolve("loss.png"));
        byte[] first = bytes(300);
        ReplacedFile.write(link, out -> out.write(first));
        byte[] second = bytes(200);
        ReplacedFile.write(link, out -> out.write(second));
        assertTrue(Files.isSymbolicLink(link));
        assertArrayEquals(second, Files.readAllBytes(runs.resolve("loss.png")));
        assertEquals(List.of(link, runs), list());
    }

    private byte[] bytes(int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

    private List<Path> list() throws IOException {
        try (var files = Files.list(dir)) {
            return files.sorted().toList();
        }
    }
}
