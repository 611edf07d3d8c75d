package dev.microgpt.testing;

import dev.microgpt.model.Documents;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** The trainer's built-in names (its fallback dataset), which travel with the code: tests train on them. */
public final class BuiltinDataset {

    private static final String RESOURCE = "/dev/microgpt/data/builtin-names.txt";

    private BuiltinDataset() {
    }

    /** The names as the trainer reads a dataset: one document per non-blank line. */
    public static List<String> documents() {
        return Documents.parse(new String(bytes(), StandardCharsets.UTF_8));
    }

    /** Writes the names to {@code dir}/names.txt for a command line to read, and returns that path. */
    public static Path writeTo(Path dir) throws IOException {
        return Files.write(dir.resolve("names.txt"), bytes());
    }

    private static byte[] bytes() {
        try (InputStream in = BuiltinDataset.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(RESOURCE + " is not on the test class path");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
