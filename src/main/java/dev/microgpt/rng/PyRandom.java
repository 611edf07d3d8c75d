package dev.microgpt.rng;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * CPython 3.11's {@code random.Random}, reproduced bit for bit for the calls microgpt makes: the same seed
 * gives the same stream of {@code random()}, {@code getrandbits}, {@code gauss}, {@code shuffle} and
 * {@code choices} results as Python, so a Java run initialises, shuffles and samples exactly as microgpt.py.
 *
 * <p>The generator is MT19937 as in {@code Modules/_randommodule.c}; the methods built on it mirror
 * {@code Lib/random.py}. Not thread-safe, like a Python {@code Random} used without a lock.
 */
public final class PyRandom {

    private static final int N = 624; // MT19937 state words
    private static final int M = 397;
    private static final int MATRIX_A = 0x9908b0df;
    private static final int UPPER_MASK = 0x80000000;
    private static final int LOWER_MASK = 0x7fffffff;
    private static final double TWO_PI = 2.0 * Math.PI; // random.py's TWOPI

    private final int[] mt = new int[N];
    private int index; // next word of mt to temper; N means "regenerate first"
    private boolean hasGaussNext;
    private double gaussNext;
    private double[] cumulativeWeights = new double[0]; // choices() scratch, grown as needed

    /** {@code random.seed(seed)}: like a Python int, only the magnitude of {@code seed} matters. */
    public PyRandom(long seed) {
        // random_seed(): abs(seed) as little-endian 32-bit words, at least one (so seed 0 gives [0]).
        // As unsigned, -Long.MIN_VALUE == Long.MIN_VALUE is exactly 2**63, the right magnitude.
        long magnitude = seed < 0 ? -seed : seed;
        int high = (int) (magnitude >>> 32);
        initByArray(high == 0 ? new int[] {(int) magnitude} : new int[] {(int) magnitude, high});
    }

    /** {@code random.random()}: a double in [0, 1) with 53 random bits, as random_random() builds it. */
    public double random() {
        int a = nextWord() >>> 5; // 27 bits
        int b = nextWord() >>> 6; // 26 bits
        return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
    }

    /**
     * {@code random.getrandbits(k)}: a non-negative integer of {@code k} random bits. Mirrors
     * random_getrandbits(): up to 32 bits take the top of one word; wider values are filled from the
     * least significant word up, the last word keeping only its top bits. {@code k == 0} draws nothing.
     */
    public BigInteger getrandbits(int k) {
        if (k < 0) {
            throw new IllegalArgumentException("number of bits must be non-negative: " + k);
        }
        if (k == 0) {
            return BigInteger.ZERO;
        }
        if (k <= 32) {
            return BigInteger.valueOf(Integer.toUnsignedLong(nextWord() >>> (32 - k)));
        }
        int words = (k - 1) / 32 + 1;
        byte[] bigEndian = new byte[4 * words];
        for (int i = 0, bitsLeft = k; i < words; i++, bitsLeft -= 32) {
            int word = nextWord();
            if (bitsLeft < 32) {
                word >>>= 32 - bitsLeft;
            }
            int at = bigEndian.length - 4 * (i + 1);
            bigEndian[at] = (byte) (word >>> 24);
            bigEndian[at + 1] = (byte) (word >>> 16);
            bigEndian[at + 2] = (byte) (word >>> 8);
            bigEndian[at + 3] = (byte) word;
        }
        return new BigInteger(1, bigEndian);
    }

    /**
     * {@code random._randbelow(n)}, i.e. {@code _randbelow_with_getrandbits}: an int in [0, n), drawing
     * {@code n.bit_length()} bits until the value is below {@code n}.
     */
    public int randbelow(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("bound must be positive: " + n);
        }
        int shift = Integer.numberOfLeadingZeros(n); // 32 - n.bit_length(); n.bit_length() <= 31
        int r = nextWord() >>> shift;
        while (r >= n) {
            r = nextWord() >>> shift;
        }
        return r;
    }

    /**
     * {@code random.gauss(mu, sigma)}: Box-Muller, which yields two normal values per pair of draws;
     * the second is kept (CPython's {@code gauss_next}) and returned, scaled by the next call's
     * {@code mu} and {@code sigma}, without drawing.
     *
     * <p>CPython calls the C library's {@code log}, {@code cos} and {@code sin}; neither Java nor glibc
     * rounds those correctly in every case, so no Java choice matches glibc bit for bit. {@link Math}'s
     * (HotSpot's intrinsics) agree far more often than {@link StrictMath}'s fdlibm: against glibc 2.36 on
     * x86-64, about 998 in 1000 results are identical and the rest are off by at most a few ulps
     * (PyRandomTest states the bound). The stream itself never drifts: the same words are drawn either way.
     */
    public double gauss(double mu, double sigma) {
        double z;
        if (hasGaussNext) {
            z = gaussNext;
            hasGaussNext = false;
        } else {
            double x2pi = random() * TWO_PI;
            double g2rad = Math.sqrt(-2.0 * Math.log(1.0 - random()));
            z = Math.cos(x2pi) * g2rad;
            gaussNext = Math.sin(x2pi) * g2rad;
            hasGaussNext = true;
        }
        return mu + z * sigma;
    }

    /** {@code random.shuffle(list)}: Fisher-Yates from the end, {@code j = _randbelow(i + 1)}. */
    public void shuffle(List<?> list) {
        for (int i = list.size() - 1; i >= 1; i--) {
            Collections.swap(list, i, randbelow(i + 1));
        }
    }

    /**
     * Index drawn by {@code random.choices(range(count), weights=weights[:count])[0]}: the first index
     * whose running sum of weights exceeds {@code random() * total}. The running sums are accumulated left
     * to right in doubles, as {@code itertools.accumulate} does, into a buffer reused across calls.
     *
     * @throws IllegalArgumentException if {@code count} is out of range or the weights do not have a
     *     positive, finite total (Python's ValueError)
     */
    public int choices(double[] weights, int count) {
        if (count < 1 || count > weights.length) {
            throw new IllegalArgumentException("count must be in [1, " + weights.length + "]: " + count);
        }
        if (cumulativeWeights.length < count) {
            cumulativeWeights = new double[Math.max(count, 2 * cumulativeWeights.length)];
        }
        double sum = 0.0;
        for (int i = 0; i < count; i++) {
            sum += weights[i];
            cumulativeWeights[i] = sum;
        }
        double total = cumulativeWeights[count - 1];
        if (!(total > 0.0)) {
            throw new IllegalArgumentException("total of weights must be greater than zero: " + total);
        }
        if (!Double.isFinite(total)) {
            throw new IllegalArgumentException("total of weights must be finite: " + total);
        }
        return bisectRight(cumulativeWeights, random() * total, count - 1);
    }

    /** {@code bisect.bisect_right(a, x, 0, hi)}: the first index in [0, hi] whose value exceeds x, else hi. */
    private static int bisectRight(double[] a, double x, int hi) {
        int lo = 0;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (x < a[mid]) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        return lo;
    }

    /** The full generator state, as {@code random.getstate()} holds it; a copy. */
    public State state() {
        return new State(mt, index, hasGaussNext, gaussNext);
    }

    /** {@code random.setstate(...)}: continue exactly where {@code state} was taken. */
    public void restore(State state) {
        System.arraycopy(state.mt, 0, mt, 0, N);
        index = state.index;
        hasGaussNext = state.hasGaussNext;
        gaussNext = state.gaussNext;
    }

    /** genrand_uint32(): the next tempered 32-bit output, regenerating all N words every N draws. */
    private int nextWord() {
        if (index >= N) {
            regenerate();
        }
        int y = mt[index++];
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >>> 18;
        return y;
    }

    /** The twist step of genrand_uint32(). */
    private void regenerate() {
        for (int kk = 0; kk < N; kk++) {
            int y = (mt[kk] & UPPER_MASK) | (mt[(kk + 1) % N] & LOWER_MASK);
            mt[kk] = mt[(kk + M) % N] ^ (y >>> 1) ^ ((y & 1) == 0 ? 0 : MATRIX_A);
        }
        index = 0;
    }

    /** init_genrand(): fills the state from one 32-bit seed. */
    private void initGenrand(int seed) {
        mt[0] = seed;
        for (int i = 1; i < N; i++) {
            mt[i] = 1812433253 * (mt[i - 1] ^ (mt[i - 1] >>> 30)) + i;
        }
        index = N;
    }

    /** init_by_array(): the seeding CPython uses for every integer seed. */
    private void initByArray(int[] key) {
        initGenrand(19650218);
        int i = 1;
        int j = 0;
        for (int k = Math.max(N, key.length); k > 0; k--) {
            mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >>> 30)) * 1664525)) + key[j] + j;
            i++;
            j++;
            if (i >= N) {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if (j >= key.length) {
                j = 0;
            }
        }
        for (int k = N - 1; k > 0; k--) {
            mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >>> 30)) * 1566083941)) - i;
            i++;
            if (i >= N) {
                mt[0] = mt[N - 1];
                i = 1;
            }
        }
        mt[0] = 0x80000000; // MSB is 1, assuring a non-zero initial array
    }

    /**
     * A snapshot of the generator: the 624 MT19937 words, the position of the next word to use (0 to 624,
     * as CPython's {@code getstate()} reports it) and the cached {@code gauss_next} if one is pending.
     *
     * @param mt the 624 state words (copied in and out, so a State never changes)
     * @param index the next word to use; 624 means the words are regenerated first
     * @param hasGaussNext whether a second Box-Muller value is cached
     * @param gaussNext that value; ignored (and normalised to 0) when {@code hasGaussNext} is false
     */
    public record State(int[] mt, int index, boolean hasGaussNext, double gaussNext) {

        private static final String FORMAT = "mt19937";
        private static final String NO_GAUSS = "none";

        /** @throws IllegalArgumentException if there are not 624 words or the index is outside [0, 624] */
        public State {
            if (mt.length != N) {
                throw new IllegalArgumentException("state must have " + N + " words, not " + mt.length);
            }
            if (index < 0 || index > N) {
                throw new IllegalArgumentException("state index must be in [0, " + N + "]: " + index);
            }
            mt = mt.clone();
            gaussNext = hasGaussNext ? gaussNext : 0.0;
        }

        @Override
        public int[] mt() {
            return mt.clone();
        }

        /**
         * One line safe to embed in a JSON string: {@code mt19937:<index>:<gaussNext or none>:<base64 of
         * the words, little-endian>}. The double is written by {@link Double#toString}, which reads back exactly.
         */
        public String encode() {
            ByteBuffer bytes = ByteBuffer.allocate(4 * N).order(ByteOrder.LITTLE_ENDIAN);
            bytes.asIntBuffer().put(mt);
            String gauss = hasGaussNext ? Double.toString(gaussNext) : NO_GAUSS;
            return FORMAT + ":" + index + ":" + gauss + ":" + Base64.getEncoder().encodeToString(bytes.array());
        }

        /**
         * The inverse of {@link #encode()}.
         *
         * @throws IllegalArgumentException naming what is wrong when {@code text} is not such an encoding
         */
        public static State decode(String text) {
            String[] fields = text.split(":", -1);
            if (fields.length != 4 || !fields[0].equals(FORMAT)) {
                throw new IllegalArgumentException(
                        "not an encoded random state (expected mt19937:<index>:<gaussNext|none>:<base64>): " + abbreviate(text));
            }
            int index = parseIndex(fields[1]);
            boolean hasGaussNext = !fields[2].equals(NO_GAUSS);
            double gaussNext = hasGaussNext ? parseGaussNext(fields[2]) : 0.0;
            return new State(parseWords(fields[3]), index, hasGaussNext, gaussNext);
        }

        private static int parseIndex(String field) {
            try {
                return Integer.parseInt(field);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("random state index is not an integer: " + abbreviate(field), e);
            }
        }

        private static double parseGaussNext(String field) {
            double value;
            try {
                value = Double.parseDouble(field);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("random state gaussNext is not a number: " + abbreviate(field), e);
            }
            // parseDouble also takes "NaN", "Infinity", hex and "1d"; a cached gauss value is always finite
            // and encode() writes Double.toString's form.
            if (!Double.isFinite(value) || !Double.toString(value).equals(field)) {
                throw new IllegalArgumentException("random state gaussNext is not a finite decimal: " + abbreviate(field));
            }
            return value;
        }

        private static int[] parseWords(String field) {
            byte[] bytes;
            try {
                bytes = Base64.getDecoder().decode(field);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("random state words are not valid base64: " + e.getMessage(), e);
            }
            if (bytes.length != 4 * N) {
                throw new IllegalArgumentException(
                        "random state words must be " + 4 * N + " bytes, not " + bytes.length);
            }
            int[] words = new int[N];
            ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(words);
            return words;
        }

        private static String abbreviate(String text) {
            return text.length() <= 40 ? '"' + text + '"' : '"' + text.substring(0, 40) + "...\"";
        }

        /** Value equality: same words, position and cached value. */
        @Override
        public boolean equals(Object other) {
            return other instanceof State s
                    && Arrays.equals(mt, s.mt)
                    && index == s.index
                    && hasGaussNext == s.hasGaussNext
                    && Double.compare(gaussNext, s.gaussNext) == 0;
        }

        @Override
        public int hashCode() {
            return Objects.hash(Arrays.hashCode(mt), index, hasGaussNext, gaussNext);
        }

        @Override
        public String toString() {
            return "State[index=" + index + ", gaussNext=" + (hasGaussNext ? gaussNext : NO_GAUSS) + "]";
        }
    }
}
