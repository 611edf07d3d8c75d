package dev.microgpt.rng;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * PyRandom against values drawn by CPython 3.11 itself (src/test/resources/rng/generate.py writes them).
 * Everything is compared for exact equality except gauss(), see {@link #MAX_GAUSS_ULPS}.
 */
class PyRandomTest {

    /**
     * gauss() calls log, cos and sin, which CPython takes from glibc and PyRandom from Java's Math; the two
     * libraries round differently in about 2 of 1000 cases. Measured over 10^6 draws of gauss(0, 0.08)
     * after microgpt's shuffle (glibc 2.36, OpenJDK 17, x86-64): 99.81% identical, the rest 1 to 3 ulps off.
     * The bound is in ulps of the deviate {@code z * sigma}: adding a nonzero mu can cancel leading digits
     * and so magnify the same difference when counted in ulps of the sum. The words drawn are the same
     * either way, so every later value is unaffected.
     */
    private static final int MAX_GAUSS_ULPS = 4;
    /** At most this share of gauss values may differ at all (measured: 0.19%; StrictMath would give 5%). */
    private static final double MAX_GAUSS_MISMATCH_SHARE = 0.01;

    private static final Map<String, List<String>> EXPECTED = loadExpected();

    static LongStream seeds() {
        return expected("seeds").stream().mapToLong(Long::parseLong);
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void randomMatchesCPython(long seed) {
        PyRandom rng = new PyRandom(seed);
        for (String value : expected(seed, "random")) {
            assertEquals(Double.parseDouble(value), rng.random());
        }
    }

    @Test
    void seedUsesTheMagnitudeLikeAPythonInt() {
        PyRandom rng = new PyRandom(Long.MIN_VALUE); // -2**63: the magnitude needs all 64 bits
        for (String value : expected("minLongSeed.random")) {
            assertEquals(Double.parseDouble(value), rng.random());
        }
        assertEquals(new PyRandom(42).state(), new PyRandom(-42).state());
        assertNotEquals(new PyRandom(42).state(), new PyRandom(43).state());
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void getrandbitsMatchesCPython(long seed) {
        for (String width : expected("getrandbits.widths")) {
            PyRandom rng = new PyRandom(seed);
            int k = Integer.parseInt(width);
            for (String value : expected(seed, "getrandbits." + k)) {
                assertEquals(new BigInteger(value), rng.getrandbits(k), "getrandbits(" + k + ")");
            }
        }
    }

    @Test
    void getrandbitsOfZeroBitsDrawsNothing() {
        PyRandom rng = new PyRandom(42);
        assertEquals(BigInteger.ZERO, rng.getrandbits(0));
        assertEquals(new PyRandom(42).state(), rng.state());
        assertThrows(IllegalArgumentException.class, () -> rng.getrandbits(-1));
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void randbelowMatchesCPython(long seed) {
        for (String bound : expected("randbelow.bounds")) {
            PyRandom rng = new PyRandom(seed);
            int n = Integer.parseInt(bound);
            for (String value : expected(seed, "randbelow." + n)) {
                assertEquals(Integer.parseInt(value), rng.randbelow(n), "randbelow(" + n + ")");
            }
        }
        assertThrows(IllegalArgumentException.class, () -> new PyRandom(seed).randbelow(0));
    }

    /** generate.py alternates (mu, sigma): draw i is gauss(3, 2) when i % 6 == 5, else gauss(0, 0.08). */
    @ParameterizedTest
    @MethodSource("seeds")
    void gaussMatchesCPythonAcrossChangingMuAndSigma(long seed) {
        PyRandom rng = new PyRandom(seed);
        List<String> expected = expected(seed, "gauss");
        double[] mu = new double[expected.size()];
        double[] actual = new double[expected.size()];
        for (int i = 0; i < actual.length; i++) {
            boolean wide = i % 6 == 5;
            mu[i] = wide ? 3.0 : 0.0;
            actual[i] = wide ? rng.gauss(3.0, 2.0) : rng.gauss(0.0, 0.08);
        }
        assertGaussMatches(parseDoubles(expected), actual, mu);
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void shuffleMatchesCPython(long seed) {
        for (int size : new int[] {50, 1000}) {
            List<Integer> items = new ArrayList<>(IntStream.range(0, size).boxed().toList());
            new PyRandom(seed).shuffle(items);
            assertEquals(parseInts(expected(seed, "shuffle." + size)), items, "shuffle of " + size);
        }
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void choicesMatchesCPython(long seed) {
        for (String name : expected("choices.names")) {
            double[] weights = parseDoubles(expected("choices.weights." + name));
            PyRandom rng = new PyRandom(seed);
            for (String value : expected(seed, "choices." + name)) {
                assertEquals(Integer.parseInt(value), rng.choices(weights, weights.length), "choices " + name);
            }
        }
    }

    @Test
    void choicesUsesOnlyTheFirstCountWeights() {
        double[] weights = parseDoubles(expected("choices.weights.mixed"));
        double[] padded = new double[weights.length + 3];
        System.arraycopy(weights, 0, padded, 0, weights.length);
        padded[weights.length] = 1e9; // would dominate if it were read
        PyRandom rng = new PyRandom(42);
        for (String value : expected(42, "choices.mixed")) {
            assertEquals(Integer.parseInt(value), rng.choices(padded, weights.length));
        }
    }

    @Test
    void choicesRejectsWhatPythonRejects() {
        PyRandom rng = new PyRandom(1);
        assertThrows(IllegalArgumentException.class, () -> rng.choices(new double[] {0.0, 0.0}, 2));
        assertThrows(IllegalArgumentException.class, () -> rng.choices(new double[] {1.0, -2.0}, 2));
        assertThrows(IllegalArgumentException.class, () -> rng.choices(new double[] {1.0, Double.POSITIVE_INFINITY}, 2));
        assertThrows(IllegalArgumentException.class, () -> rng.choices(new double[] {1.0, Double.NaN}, 2));
        assertThrows(IllegalArgumentException.class, () -> rng.choices(new double[] {1.0}, 0));
        assertThrows(IllegalArgumentException.class, () -> rng.choices(new double[] {1.0}, 2));
    }

    /** shuffle, an odd number of gauss (leaving one cached), random, choices: interleaved as in CPython. */
    @ParameterizedTest
    @MethodSource("seeds")
    void interleavedCallsMatchCPython(long seed) {
        PyRandom rng = new PyRandom(seed);
        List<Integer> items = new ArrayList<>(IntStream.range(0, 20).boxed().toList());
        rng.shuffle(items);
        assertEquals(parseInts(expected(seed, "mixed.shuffle")), items);
        double[] gauss = new double[7];
        for (int i = 0; i < gauss.length; i++) {
            gauss[i] = rng.gauss(0.0, 1.0);
        }
        assertGaussWithinBound(parseDoubles(expected(seed, "mixed.gauss")), gauss, new double[gauss.length]);
        assertEquals(Double.parseDouble(expected(seed, "mixed.random").get(0)), rng.random());
        double[] weights = parseDoubles(expected("choices.weights.mixed"));
        for (String value : expected(seed, "mixed.choices")) {
            assertEquals(Integer.parseInt(value), rng.choices(weights, weights.length));
        }

        // The state has CPython's getstate() layout: the same words, position and pending gauss value.
        PyRandom.State state = rng.state();
        int[] words = expected(seed, "mixed.state.mt").stream().mapToInt(w -> (int) Long.parseLong(w)).toArray();
        assertArrayEquals(words, state.mt());
        assertEquals(Integer.parseInt(expected(seed, "mixed.state.index").get(0)), state.index());
        assertTrue(state.hasGaussNext());
        assertGaussWithinBound(
                new double[] {Double.parseDouble(expected(seed, "mixed.state.gaussNext").get(0))},
                new double[] {state.gaussNext()},
                new double[1]);

        List<String> after = expected(seed, "mixed.after");
        assertGaussWithinBound(
                new double[] {Double.parseDouble(after.get(0))}, new double[] {rng.gauss(0.0, 1.0)}, new double[1]);
        assertEquals(Double.parseDouble(after.get(1)), rng.random());
    }

    /** microgpt.py: random.seed(42), shuffle the 32033 names, 4192 gauss(0, 0.08) parameters, then sampling. */
    @Test
    void microgptSequenceMatchesCPython() throws NoSuchAlgorithmException {
        PyRandom rng = new PyRandom(42);
        List<Integer> docs = new ArrayList<>(IntStream.range(0, 32033).boxed().toList());
        rng.shuffle(docs);
        assertEquals(parseInts(expected("microgpt.shuffle.first10")), docs.subList(0, 10));
        assertEquals(parseInts(expected("microgpt.shuffle.last10")), docs.subList(docs.size() - 10, docs.size()));
        ByteBuffer docBytes = ByteBuffer.allocate(4 * docs.size()).order(ByteOrder.LITTLE_ENDIAN);
        docs.forEach(docBytes::putInt);
        String sha256 = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(docBytes.array()));
        assertEquals(expected("microgpt.shuffle.sha256").get(0), sha256);

        byte[] paramBytes = Base64.getDecoder().decode(expected("microgpt.gauss.base64").get(0));
        double[] params = new double[paramBytes.length / 8];
        ByteBuffer.wrap(paramBytes).order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer().get(params);
        assertEquals(4192, params.length);
        double[] actual = new double[params.length];
        for (int i = 0; i < actual.length; i++) {
            actual[i] = rng.gauss(0.0, 0.08);
        }
        assertGaussMatches(params, actual, new double[params.length]);

        List<String> samples = expected("microgpt.choices");
        for (int i = 0; i < samples.size(); i++) {
            double[] probs = parseDoubles(expected("microgpt.weights." + i));
            assertEquals(Integer.parseInt(samples.get(i)), rng.choices(probs, probs.length), "sample " + i);
        }
    }

    @Test
    void restoreContinuesTheStreamIncludingAPendingGaussValue() {
        PyRandom original = new PyRandom(12345);
        for (int i = 0; i < 700; i++) { // past one regeneration of the 624 words
            original.random();
        }
        original.gauss(0.0, 1.0); // leaves the second value cached
        PyRandom.State state = original.state();
        assertTrue(state.hasGaussNext());

        PyRandom copy = new PyRandom(7);
        copy.restore(state);
        assertSameContinuation(original, copy);

        PyRandom decoded = new PyRandom(7);
        decoded.restore(PyRandom.State.decode(state.encode()));
        original.restore(state);
        assertSameContinuation(original, decoded);
    }

    @Test
    void stateIsACopy() {
        PyRandom rng = new PyRandom(1);
        PyRandom.State state = rng.state();
        rng.random();
        assertEquals(new PyRandom(1).state(), state);
        state.mt()[0] = 12345;
        assertEquals(new PyRandom(1).state(), state);
    }

    @Test
    void encodingRoundTripsExactly() {
        PyRandom rng = new PyRandom(1L << 40);
        PyRandom.State fresh = rng.state(); // index 624, nothing cached
        assertEquals(fresh, PyRandom.State.decode(fresh.encode()));
        rng.gauss(0.0, 1.0);
        PyRandom.State pending = rng.state();
        String text = pending.encode();
        assertEquals(pending, PyRandom.State.decode(text));
        assertEquals(1, text.lines().count());
        assertTrue(text.chars().noneMatch(c -> c == '"' || c == '\\'), "safe inside a JSON string");
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "",
        "garbage",
        "mt19937:624:none",
        "mt19937:624:none:AAAA:extra",
        "pcg64:624:none:AAAA",
        "mt19937:x:none:AAAA",
        "mt19937:625:none:AAAA",
        "mt19937:-1:none:AAAA",
        "mt19937:624:NaN:AAAA",
        "mt19937:624:Infinity:AAAA",
        "mt19937:624:1.5d:AAAA",
        "mt19937:624:abc:AAAA",
        "mt19937:624:none:!!!!",
        "mt19937:624:none:AAAA",
    })
    void decodeRejectsMalformedText(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PyRandom.State.decode(text));
        assertTrue(e.getMessage().contains("random state"), e.getMessage());
    }

    @Test
    void decodeRejectsATruncatedValidEncoding() {
        String text = new PyRandom(3).state().encode();
        assertThrows(IllegalArgumentException.class, () -> PyRandom.State.decode(text.substring(0, text.length() - 8)));
    }

    @Test
    void stateRejectsWrongShapes() {
        assertThrows(IllegalArgumentException.class, () -> new PyRandom.State(new int[623], 0, false, 0.0));
        assertThrows(IllegalArgumentException.class, () -> new PyRandom.State(new int[624], 625, false, 0.0));
    }

    /** random(), gauss() and choices() run once per parameter or token; they must not allocate. */
    @Test
    void hotMethodsDoNotAllocate() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        PyRandom rng = new PyRandom(5);
        double[] weights = parseDoubles(expected("choices.weights.softmax27"));
        int calls = 200_000;
        double sink = drawMany(rng, weights, calls); // warm up, and grow the choices buffer
        long before = threads.getCurrentThreadAllocatedBytes();
        sink += drawMany(rng, weights, calls);
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        assertTrue(allocated < 1024, allocated + " bytes allocated by " + calls + " calls of each (" + sink + ")");
    }

    private static double drawMany(PyRandom rng, double[] weights, int calls) {
        double sum = 0.0;
        for (int i = 0; i < calls; i++) {
            sum += rng.random() + rng.gauss(0.0, 1.0) + rng.choices(weights, weights.length);
        }
        return sum;
    }

    private static void assertSameContinuation(PyRandom expected, PyRandom actual) {
        assertEquals(expected.gauss(0.0, 1.0), actual.gauss(0.0, 1.0), "the cached gauss value");
        for (int i = 0; i < 1000; i++) {
            assertEquals(expected.random(), actual.random());
            assertEquals(expected.gauss(1.0, 2.0), actual.gauss(1.0, 2.0));
            assertEquals(expected.getrandbits(70), actual.getrandbits(70));
        }
        assertEquals(expected.state(), actual.state());
    }

    /** Every value within the bound of CPython's, and nearly all of them identical. */
    private static void assertGaussMatches(double[] expected, double[] actual, double[] mu) {
        int differing = assertGaussWithinBound(expected, actual, mu);
        assertTrue(differing <= MAX_GAUSS_MISMATCH_SHARE * expected.length + 1,
                differing + " of " + expected.length + " gauss values differ from CPython's");
    }

    /**
     * Each actual value within MAX_GAUSS_ULPS ulps of {@code expected - mu} (the deviate) of CPython's.
     *
     * @return how many values are not bit-identical
     */
    private static int assertGaussWithinBound(double[] expected, double[] actual, double[] mu) {
        assertEquals(expected.length, actual.length);
        int differing = 0;
        for (int i = 0; i < expected.length; i++) {
            double ulps = Math.abs(actual[i] - expected[i]) / Math.ulp(expected[i] - mu[i]);
            assertTrue(ulps <= MAX_GAUSS_ULPS,
                    "gauss value " + i + ": CPython " + expected[i] + ", PyRandom " + actual[i] + " (" + ulps + " ulps)");
            if (actual[i] != expected[i]) {
                differing++;
            }
        }
        return differing;
    }

    private static List<String> expected(long seed, String key) {
        return expected("seed" + seed + "." + key);
    }

    private static List<String> expected(String key) {
        List<String> values = EXPECTED.get(key);
        if (values == null) {
            throw new IllegalStateException("cpython_random.json has no \"" + key + "\"; rerun generate.py");
        }
        return values;
    }

    private static double[] parseDoubles(List<String> values) {
        return values.stream().mapToDouble(Double::parseDouble).toArray();
    }

    private static List<Integer> parseInts(List<String> values) {
        return values.stream().map(Integer::valueOf).toList();
    }

    /**
     * Reads generate.py's output without a JSON library: it writes one {@code "key": ["v", ...]} per line
     * and no value contains a quote or backslash.
     */
    private static Map<String, List<String>> loadExpected() {
        Pattern entry = Pattern.compile("\\s*\"([^\"]+)\": \\[(.*)],?");
        Pattern string = Pattern.compile("\"([^\"]*)\"");
        Map<String, List<String>> expected = new LinkedHashMap<>();
        try (InputStream in = PyRandomTest.class.getResourceAsStream("/rng/cpython_random.json")) {
            if (in == null) {
                throw new IllegalStateException("rng/cpython_random.json is not on the test classpath");
            }
            BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                Matcher m = entry.matcher(line);
                if (m.matches()) {
                    List<String> values = new ArrayList<>();
                    Matcher s = string.matcher(m.group(2));
                    while (s.find()) {
                        values.add(s.group(1));
                    }
                    expected.put(m.group(1), values);
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read rng/cpython_random.json", e);
        }
        return expected;
    }
}
