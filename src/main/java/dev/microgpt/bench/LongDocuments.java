package dev.microgpt.bench;

import dev.microgpt.model.Documents;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Makes a benchmark dataset of long documents from a dataset of short ones: consecutive documents, in file order,
 * joined with nothing between them until each has at least {@code --min-chars} characters (code points). The
 * vocabulary, and so the model and its parameter count, stays exactly the input's, and every document of at least
 * block_size characters makes a training step run on all block_size positions. Deterministic: the same input gives
 * the same file. The trailing documents that do not reach the length are dropped.
 */
@Command(name = "long-documents", mixinStandardHelpOptions = true,
        description = "Joins consecutive documents of a dataset into documents of at least --min-chars characters.")
public final class LongDocuments implements Callable<Integer> {

    @Option(names = "--input", required = true, description = "Dataset, one document per line.")
    Path input;

    @Option(names = "--output", required = true, description = "Where to write the long documents, one per line.")
    Path output;

    @Option(names = "--min-chars", defaultValue = "64", description = "Shortest document written (default: ${DEFAULT-VALUE}).")
    int minChars;

    public static void main(String[] args) {
        System.exit(new CommandLine(new LongDocuments()).execute(args));
    }

    @Override
    public Integer call() throws IOException {
        if (minChars < 1) {
            System.err.println("long-documents: --min-chars must be at least 1, got " + minChars);
            return 2;
        }
        List<String> joined = join(Documents.read(input), minChars);
        if (joined.isEmpty()) {
            System.err.println("long-documents: " + input + " holds fewer than " + minChars
                    + " characters in all; no document that long can be made from it");
            return 1;
        }
        Path parent = output.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.writeString(output, String.join("\n", joined) + "\n", StandardCharsets.UTF_8);
        System.err.printf("long-documents: %d documents of at least %d characters from %s%n", joined.size(), minChars, input);
        return 0;
    }

    /** Consecutive documents concatenated until each result has at least {@code minChars} code points. */
    public static List<String> join(List<String> documents, int minChars) {
        List<String> out = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        int length = 0;
        for (String doc : documents) {
            current.append(doc);
            length += doc.codePointCount(0, doc.length());
            if (length >= minChars) {
                out.add(current.toString());
                current.setLength(0);
                length = 0;
            }
        }
        return out;
    }
}
