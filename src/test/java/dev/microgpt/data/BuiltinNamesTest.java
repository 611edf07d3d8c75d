package dev.microgpt.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.microgpt.files.Sha256;
import dev.microgpt.model.Documents;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class BuiltinNamesTest {

    private final byte[] bytes = BuiltinNames.bytes();
    private final String text = new String(bytes, StandardCharsets.US_ASCII);
    private final List<String> lines = List.of(text.split("\n"));

    @Test
    void isOneLowerCaseAsciiNamePerLineEndingInANewline() {
        assertTrue(text.endsWith("\n"), "the last line ends with a newline");
        for (String line : lines) {
            // Also rules out blank lines, \r and any byte outside ASCII.
            assertTrue(line.matches("[a-z]+"), () -> "not a lower-case a-z name: '" + line + "'");
        }
    }

    @Test
    void hasAtLeastTwoThousandDistinctNames() {
        assertTrue(lines.size() >= 2000, () -> "only " + lines.size() + " names");
        Set<String> seen = new HashSet<>();
        for (String line : lines) {
            assertTrue(seen.add(line), () -> "duplicate name: " + line);
        }
    }

    @Test
    void usesEveryLetterSoTheVocabularyMatchesTheMakemoreNames() {
        Set<Character> letters = new TreeSet<>();
        text.chars().filter(c -> c != '\n').forEach(c -> letters.add((char) c));
        assertEquals(26, letters.size(), () -> "letters used: " + letters);
    }

    @Test
    void parsesAsDocumentsLineForLine() {
        assertEquals(lines, Documents.parse(text));
    }

    @Test
    void isNotTheMakemoreFile() {
        assertNotEquals(DatasetSource.MAKEMORE_NAMES_SHA256, Sha256.hex(bytes));
    }
}
