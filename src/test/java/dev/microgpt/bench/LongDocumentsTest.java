package dev.microgpt.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.microgpt.model.Documents;
import dev.microgpt.model.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The long documents bench/run.sh trains on: consecutive documents joined, the vocabulary unchanged. */
class LongDocumentsTest {

    @Test
    void joinsConsecutiveDocumentsUntilLongEnoughAndDropsTheShortRest() {
        assertEquals(List.of("abcde", "fghij"), LongDocuments.join(List.of("ab", "cde", "f", "ghij", "k"), 4));
        assertEquals(List.of("abcd"), LongDocuments.join(List.of("abcd"), 4));
        assertEquals(List.of(), LongDocuments.join(List.of("ab", "c"), 4));
    }

    @Test
    void countsCharactersAsCodePoints() {
        // "é" and the emoji are one character each, as the tokenizer counts them.
        assertEquals(List.of("éé😀x"), LongDocuments.join(List.of("éé", "😀", "x", "y"), 4));
    }

    @Test
    void writesADatasetWithTheSameVocabularyWhoseDocumentsFillTheContext(@TempDir Path dir) throws Exception {
        Path names = dir.resolve("names.txt");
        Files.writeString(names, "emma\nolivia\n\n  ava \nisabella\nsophia\ncharlotte\nmia\namelia\nharper\nevelyn\n");
        Path out = dir.resolve("sub/long.txt");
        assertEquals(0, new CommandLine(new LongDocuments()).execute("--input", names.toString(), "--output",
                out.toString(), "--min-chars", "16"));
        List<String> docs = Documents.read(out);
        assertEquals(List.of("emmaoliviaavaisabella", "sophiacharlotte" + "mia", "ameliaharperevelyn"), docs);
        docs.forEach(d -> assertTrue(d.length() >= 16, d));
        assertEquals(Tokenizer.fromDocuments(Documents.read(names)).vocabulary(), Tokenizer.fromDocuments(docs).vocabulary());
    }

    @Test
    void refusesADatasetTooShortForOneDocument(@TempDir Path dir) throws Exception {
        Path names = dir.resolve("names.txt");
        Files.writeString(names, "ab\ncd\n");
        assertEquals(1, new CommandLine(new LongDocuments()).execute("--input", names.toString(), "--output",
                dir.resolve("long.txt").toString(), "--min-chars", "64"));
    }
}
