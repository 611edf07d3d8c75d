package dev.microgpt.model;

import java.util.Arrays;
import java.util.List;

/**
 * microgpt.py's character tokenizer: the dataset's distinct characters (Unicode code points) sorted, one
 * token each, and one more token, BOS, that opens and closes every document.
 */
public final class Tokenizer {

    private final int[] codePoints; // sorted, distinct; token i is codePoints[i]

    private Tokenizer(int[] codePoints) {
        this.codePoints = codePoints;
    }

    /** The vocabulary of these documents, as {@code sorted(set(''.join(docs)))}. */
    public static Tokenizer fromDocuments(List<String> documents) {
        return new Tokenizer(documents.stream().flatMapToInt(String::codePoints).distinct().sorted().toArray());
    }

    /** The tokenizer whose characters are exactly those of {@code vocabulary}, in order (checkpoint metadata). */
    public static Tokenizer fromVocabulary(String vocabulary) {
        int[] cps = vocabulary.codePoints().toArray();
        int[] sorted = Arrays.stream(cps).distinct().sorted().toArray();
        if (!Arrays.equals(cps, sorted)) {
            throw new IllegalArgumentException("vocabulary must list distinct characters in code-point order");
        }
        return new Tokenizer(cps);
    }

    public int vocabSize() {
        return codePoints.length + 1;
    }

    /** Beginning-of-sequence token, the last id. */
    public int bos() {
        return codePoints.length;
    }

    /** The token of one character, or -1 when the character is not in the vocabulary. */
    public int tokenOf(int codePoint) {
        int i = Arrays.binarySearch(codePoints, codePoint);
        return i >= 0 ? i : -1;
    }

    /** {@code [BOS] + [uchars.index(ch) for ch in doc] + [BOS]}. */
    public int[] encodeDocument(String document) {
        int[] chars = document.codePoints().toArray();
        int[] tokens = new int[chars.length + 2];
        tokens[0] = bos();
        for (int i = 0; i < chars.length; i++) {
            int t = tokenOf(chars[i]);
            if (t < 0) {
                throw new IllegalArgumentException("character " + describe(chars[i]) + " is not in the vocabulary");
            }
            tokens[i + 1] = t;
        }
        tokens[tokens.length - 1] = bos();
        return tokens;
    }

    /** The characters of {@code text} that this vocabulary lacks, each once, in order of appearance. */
    public String unknownCharacters(String text) {
        StringBuilder unknown = new StringBuilder();
        text.codePoints().filter(cp -> tokenOf(cp) < 0).distinct().forEach(unknown::appendCodePoint);
        return unknown.toString();
    }

    /** The character of a non-BOS token. */
    public String decode(int token) {
        return Character.toString(codePoints[token]);
    }

    /** All characters in token order: the vocabulary without BOS. */
    public String vocabulary() {
        StringBuilder sb = new StringBuilder();
        for (int cp : codePoints) {
            sb.appendCodePoint(cp);
        }
        return sb.toString();
    }

    static String describe(int codePoint) {
        return String.format("'%s' (U+%04X)", Character.toString(codePoint), codePoint);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Tokenizer t && Arrays.equals(codePoints, t.codePoints);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(codePoints);
    }
}
