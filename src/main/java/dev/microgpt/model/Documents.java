package dev.microgpt.model;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads a dataset as microgpt.py does: {@code [line.strip() for line in open(path) if line.strip()]}, that is
 * UTF-8 text split at universal newlines (\n, \r\n, \r), each line stripped of Python's whitespace, blank
 * lines dropped.
 */
public final class Documents {

    private Documents() {
    }

    /** Thrown for a dataset that cannot be trained on; the message names the problem and the fix. */
    public static final class DatasetException extends IOException {
        public DatasetException(String message) {
            super(message);
        }
    }

    public static List<String> read(Path path) throws IOException {
        return decode(readBytes(path), "input file " + path);
    }

    /** The bytes of a dataset file, read once (it may be a pipe); a file that cannot be read fails with one line. */
    public static byte[] readBytes(Path path) throws DatasetException {
        try {
            return Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw new DatasetException("input file " + path + " does not exist; pass --input FILE with one document per line");
        } catch (IOException e) {
            throw new DatasetException("cannot read input file " + path + " (" + e.getMessage() + "); pass --input FILE,"
                    + " a readable file with one document per line");
        }
    }

    /**
     * The documents of a dataset's bytes; {@code source} names where they came from in the error of bytes that are not
     * UTF-8 text or hold no document ("input file names.txt", "standard input").
     */
    public static List<String> decode(byte[] bytes, String source) throws DatasetException {
        List<String> docs = parse(decodeUtf8(bytes, source));
        if (docs.isEmpty()) {
            throw new DatasetException(source + " has no documents (it is empty or blank); put one document per line in it");
        }
        return docs;
    }

    /** Splits text at universal newlines and keeps the non-blank lines, stripped. */
    public static List<String> parse(String text) {
        List<String> docs = new ArrayList<>();
        int start = 0;
        int n = text.length();
        for (int i = 0; i <= n; i++) {
            boolean end = i == n;
            char ch = end ? 0 : text.charAt(i);
            if (end || ch == '\n' || ch == '\r') {
                String line = strip(text.substring(start, i));
                if (!line.isEmpty()) {
                    docs.add(line);
                }
                if (ch == '\r' && i + 1 < n && text.charAt(i + 1) == '\n') {
                    i++;
                }
                start = i + 1;
            }
        }
        return docs;
    }

    /** Python's {@code str.strip()}: removes leading and trailing characters for which isspace() holds. */
    static String strip(String s) {
        int begin = 0;
        int end = s.length();
        while (begin < end && isPythonSpace(s.charAt(begin))) {
            begin++;
        }
        while (end > begin && isPythonSpace(s.charAt(end - 1))) {
            end--;
        }
        return s.substring(begin, end);
    }

    /**
     * Python's {@code str.isspace()}: bidirectional class WS, B or S, or category Zs. This differs from Java's
     * isWhitespace, which excludes the no-break spaces and U+0085.
     */
    static boolean isPythonSpace(char c) {
        return (c >= '\t' && c <= '\r') || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680
                || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F
                || c == 0x3000;
    }

    private static String decodeUtf8(byte[] bytes, String source) throws DatasetException {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        try {
            return decoder.decode(in).toString();
        } catch (MalformedInputException e) {
            throw new DatasetException(source + " is not UTF-8 text (bad byte near offset "
                    + in.position() + "); convert it, e.g. with iconv -t UTF-8");
        } catch (CharacterCodingException e) {
            throw new DatasetException(source + " is not UTF-8 text; convert it, e.g. with iconv -t UTF-8");
        }
    }
}
