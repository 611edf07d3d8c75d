package dev.microgpt.checkpoint;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonPrimitive;
import com.google.gson.Strictness;
import dev.microgpt.engine.AdamConfig;
import dev.microgpt.files.Sha256;
import dev.microgpt.model.ModelConfig;
import dev.microgpt.model.ParameterLayout;
import dev.microgpt.rng.PyRandom;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The safetensors JSON header of a checkpoint: the run's metadata, the data's checksum, and one entry per tensor.
 * {@link #encode()} writes it; {@link #parse} reads it back and refuses, naming the problem, any header this class
 * would not have written for a consistent checkpoint.
 *
 * <p>The tensors, all of the checkpoint's dtype, in file order: the layout's tensors ({@code wte}, {@code wpe},
 * {@code lm_head}, {@code layer0.attn_wq}, ...), then {@code adam_m.<name>} for each, then {@code adam_v.<name>} for
 * each; each [rows, cols] as in the layout, directly after the previous one. The data buffer is therefore
 * params ‖ m ‖ v, each [P] in layout order.
 */
record CheckpointHeader(ModelConfig config, String vocabulary, AdamConfig adam, int step, double loss, int totalSteps,
                        int batchSize, long seed, String datasetSha256, PyRandom.State rng, DType dtype,
                        String dataSha256) {

    static final String METADATA = "__metadata__";
    static final String FORMAT = "microgpt-checkpoint";
    static final String FORMAT_VERSION = "3";
    /** Version 2, written before the step's loss was kept: no loss. Still read, its loss unknown. */
    static final String NO_LOSS_FORMAT_VERSION = "2";
    /** Version 1, written before batches: one document a step, no batch_size, no loss. Still read. */
    static final String ONE_DOCUMENT_FORMAT_VERSION = "1";
    private static final List<String> READ_VERSIONS = List.of(ONE_DOCUMENT_FORMAT_VERSION, NO_LOSS_FORMAT_VERSION,
            FORMAT_VERSION);
    static final String ADAM_M_PREFIX = "adam_m.";
    static final String ADAM_V_PREFIX = "adam_v.";

    /** The reference implementation's limit: a larger header is not a safetensors file. */
    static final long MAX_HEADER_BYTES = 100_000_000L;

    // The metadata keys, in the order they are written.
    private static final String K_FORMAT = "format";
    private static final String K_FORMAT_VERSION = "format_version";
    private static final String K_N_EMBD = "n_embd";
    private static final String K_N_HEAD = "n_head";
    private static final String K_N_LAYER = "n_layer";
    private static final String K_BLOCK_SIZE = "block_size";
    private static final String K_VOCAB_SIZE = "vocab_size";
    private static final String K_VOCABULARY = "vocabulary";
    private static final String K_LEARNING_RATE = "learning_rate";
    private static final String K_BETA1 = "beta1";
    private static final String K_BETA2 = "beta2";
    private static final String K_EPS = "eps";
    private static final String K_STEP = "step";
    private static final String K_LOSS = "loss";
    private static final String K_TOTAL_STEPS = "total_steps";
    private static final String K_BATCH_SIZE = "batch_size";
    private static final String K_SEED = "seed";
    private static final String K_DATASET_SHA256 = "dataset_sha256";
    private static final String K_RNG_STATE = "rng_state";
    private static final String K_DTYPE = "dtype";
    private static final String K_DATA_SHA256 = "data_sha256";
    private static final String K_METADATA_SHA256 = "metadata_sha256";

    static final String DAMAGED = "the file was damaged or edited, use an earlier checkpoint";
    private static final Pattern SHA256_HEX = Pattern.compile("[0-9a-f]{64}");
    /** A JSON number that is a non-negative integer below 10^18 (so it fits a long with room to add). */
    private static final Pattern NATURAL = Pattern.compile("0|[1-9][0-9]{0,17}");

    // Vocabulary characters such as '<' or '=' are written as themselves, not as \u003c escapes.
    private static final Gson WRITER = new GsonBuilder().disableHtmlEscaping().create();
    // Only standard JSON: no comments, single quotes, unquoted names or NaN, which the default would accept.
    private static final Gson READER = new GsonBuilder().setStrictness(Strictness.STRICT).create();

    /** One tensor as the file stores it: its name, [rows, cols], and its bytes [begin, end) in the data buffer. */
    record StoredTensor(String name, int rows, int cols, long begin, long end) {
    }

    /** The header of {@code checkpoint} whose data buffer has SHA-256 {@code dataSha256} (hex). */
    static CheckpointHeader of(Checkpoint checkpoint, String dataSha256) {
        return new CheckpointHeader(checkpoint.config(), checkpoint.vocabulary(), checkpoint.adam(), checkpoint.step(),
                checkpoint.loss(), checkpoint.totalSteps(), checkpoint.batchSize(), checkpoint.seed(),
                checkpoint.datasetSha256(), checkpoint.rng(), checkpoint.dtype(), dataSha256);
    }

    /** The tensors of a checkpoint of this shape and dtype, in file order, with their places in the data buffer. */
    static List<StoredTensor> storedTensors(ModelConfig config, DType dtype) {
        List<ParameterLayout.Tensor> tensors = new ParameterLayout(config).tensors();
        List<StoredTensor> stored = new ArrayList<>(3 * tensors.size());
        long next = 0;
        for (String prefix : new String[] {"", ADAM_M_PREFIX, ADAM_V_PREFIX}) {
            for (ParameterLayout.Tensor t : tensors) {
                long end = next + (long) t.size() * dtype.bytes();
                stored.add(new StoredTensor(prefix + t.name(), t.rows(), t.cols(), next, end));
                next = end;
            }
        }
        return stored;
    }

    /** P, the length of each of the three arrays. */
    int parameterCount() {
        return new ParameterLayout(config).size();
    }

    /** Length of the data buffer: three arrays of P values. */
    long dataBytes() {
        return 3L * parameterCount() * dtype.bytes();
    }

    /** The checkpoint with this header's fields and the given arrays, [P] each in layout order. */
    Checkpoint withData(double[] params, double[] adamM, double[] adamV) {
        return new Checkpoint(config, vocabulary, adam, step, loss, totalSteps, batchSize, seed, datasetSha256, rng,
                dtype, params, adamM, adamV);
    }

    /**
     * The header as UTF-8 JSON, padded with trailing spaces to a multiple of 8 bytes so that the data buffer, which
     * follows the 8-byte length and the header, starts 8-byte aligned.
     */
    byte[] encode() {
        JsonObject root = new JsonObject();
        root.add(METADATA, metadata());
        for (StoredTensor t : storedTensors(config, dtype)) {
            JsonObject entry = new JsonObject();
            entry.addProperty("dtype", dtype.name());
            entry.add("shape", pair(t.rows(), t.cols()));
            entry.add("data_offsets", pair(t.begin(), t.end()));
            root.add(t.name(), entry);
        }
        byte[] json = WRITER.toJson(root).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        byte[] header = Arrays.copyOf(json, padded);
        Arrays.fill(header, json.length, padded, (byte) ' ');
        return header;
    }

    /**
     * The metadata, ending with {@code metadata_sha256}: the SHA-256 of every other entry, so that an edited field
     * that still parses (a step, a seed) is caught as surely as damaged tensor data is by {@code data_sha256}.
     */
    private JsonObject metadata() {
        JsonObject m = describedMetadata(FORMAT_VERSION);
        m.addProperty(K_METADATA_SHA256, digestOf(m));
        return m;
    }

    /** SHA-256 (hex) of the entries in order, each key and value length-prefixed so that no two maps collide. */
    static String digestOf(JsonObject metadata) {
        StringBuilder canonical = new StringBuilder();
        for (Map.Entry<String, JsonElement> e : metadata.entrySet()) {
            String value = e.getValue().getAsString();
            canonical.append(e.getKey().length()).append(':').append(e.getKey())
                    .append(value.length()).append(':').append(value);
        }
        return Sha256.hex(canonical.toString().getBytes(StandardCharsets.UTF_8));
    }

    /** The metadata but its checksum, as {@code version} writes it. */
    private JsonObject describedMetadata(String version) {
        JsonObject m = new JsonObject();
        m.addProperty(K_FORMAT, FORMAT);
        m.addProperty(K_FORMAT_VERSION, version);
        m.addProperty(K_N_EMBD, Integer.toString(config.nEmbd()));
        m.addProperty(K_N_HEAD, Integer.toString(config.nHead()));
        m.addProperty(K_N_LAYER, Integer.toString(config.nLayer()));
        m.addProperty(K_BLOCK_SIZE, Integer.toString(config.blockSize()));
        m.addProperty(K_VOCAB_SIZE, Integer.toString(config.vocabSize()));
        m.addProperty(K_VOCABULARY, vocabulary);
        m.addProperty(K_LEARNING_RATE, Double.toString(adam.learningRate()));
        m.addProperty(K_BETA1, Double.toString(adam.beta1()));
        m.addProperty(K_BETA2, Double.toString(adam.beta2()));
        m.addProperty(K_EPS, Double.toString(adam.eps()));
        m.addProperty(K_STEP, Integer.toString(step));
        if (version.equals(FORMAT_VERSION) && !Double.isNaN(loss)) {
            m.addProperty(K_LOSS, Double.toString(loss)); // round-trips exactly, as the metrics file writes it
        }
        m.addProperty(K_TOTAL_STEPS, Integer.toString(totalSteps));
        if (!version.equals(ONE_DOCUMENT_FORMAT_VERSION)) {
            m.addProperty(K_BATCH_SIZE, Integer.toString(batchSize));
        }
        m.addProperty(K_SEED, Long.toString(seed));
        m.addProperty(K_DATASET_SHA256, datasetSha256);
        m.addProperty(K_RNG_STATE, rng.encode());
        m.addProperty(K_DTYPE, dtype.name());
        m.addProperty(K_DATA_SHA256, dataSha256);
        return m;
    }

    private static JsonArray pair(long first, long second) {
        JsonArray a = new JsonArray(2);
        a.add(first);
        a.add(second);
        return a;
    }

    /**
     * Reads and validates a header: the metadata describes a valid model and run, and the tensors are exactly those
     * of {@link #storedTensors} for that model, with the metadata's dtype. Fields checked across the whole checkpoint
     * (the vocabulary against vocab_size, the step against total_steps) are checked when the {@link Checkpoint} is
     * built.
     *
     * @param file how to name the file in messages
     * @param json the header, trailing padding included
     * @throws CheckpointException naming the first problem found
     */
    static CheckpointHeader parse(String file, String json) throws CheckpointException {
        JsonElement parsed;
        try {
            parsed = READER.fromJson(json, JsonElement.class);
        } catch (JsonParseException e) {
            throw new CheckpointException("checkpoint " + file + " is not a safetensors file: its header is not valid"
                    + " JSON (" + jsonProblem(e) + "); " + DAMAGED, e);
        }
        if (parsed == null || !parsed.isJsonObject()) {
            throw new CheckpointException("checkpoint " + file + " is not a safetensors file: its header is not a JSON"
                    + " object; " + DAMAGED);
        }
        JsonObject root = parsed.getAsJsonObject();
        Metadata m = Metadata.of(file, root.get(METADATA));

        String version = m.text(K_FORMAT_VERSION);
        if (!READ_VERSIONS.contains(version)) {
            throw new CheckpointException("checkpoint " + file + " has format version " + quote(version)
                    + " but this microgpt reads versions " + String.join(", ", READ_VERSIONS.subList(0,
                    READ_VERSIONS.size() - 1)) + " and " + FORMAT_VERSION + "; load it with the microgpt version that"
                    + " wrote it");
        }
        ModelConfig config;
        try {
            config = new ModelConfig(m.integer(K_N_EMBD), m.integer(K_N_HEAD), m.integer(K_N_LAYER),
                    m.integer(K_BLOCK_SIZE), m.integer(K_VOCAB_SIZE));
        } catch (IllegalArgumentException e) {
            throw m.invalid("model shape", e);
        }
        AdamConfig adam;
        try {
            adam = new AdamConfig(m.decimal(K_LEARNING_RATE), m.decimal(K_BETA1), m.decimal(K_BETA2), m.decimal(K_EPS));
        } catch (IllegalArgumentException e) {
            throw m.invalid("Adam settings", e);
        }
        PyRandom.State rng;
        try {
            rng = PyRandom.State.decode(m.text(K_RNG_STATE));
        } catch (IllegalArgumentException e) {
            throw m.invalid(K_RNG_STATE, e);
        }
        DType dtype = m.dtype(K_DTYPE);
        double loss = version.equals(FORMAT_VERSION) && m.has(K_LOSS) ? m.decimal(K_LOSS) : Double.NaN;
        CheckpointHeader header = new CheckpointHeader(config, m.text(K_VOCABULARY), adam, m.integer(K_STEP), loss,
                m.integer(K_TOTAL_STEPS), version.equals(ONE_DOCUMENT_FORMAT_VERSION) ? 1 : m.integer(K_BATCH_SIZE),
                m.longInteger(K_SEED), m.sha256(K_DATASET_SHA256), rng, dtype,
                m.sha256(K_DATA_SHA256));
        header.checkTensors(file, root);
        if (!m.sha256(K_METADATA_SHA256).equals(digestOf(header.describedMetadata(version)))) {
            throw new CheckpointException("checkpoint " + file + " is corrupt: its metadata does not match its"
                    + " metadata_sha256; " + DAMAGED);
        }
        return header;
    }

    /** Every tensor of the layout is present, as written, and nothing else is. */
    private void checkTensors(String file, JsonObject root) throws CheckpointException {
        // Every layer has entries in the header: a damaged n_layer must not make us build millions of tensors.
        if (config.nLayer() > root.size()) {
            throw new CheckpointException("checkpoint " + file + " has n_layer " + config.nLayer()
                    + " but its header lists only " + root.size() + " entries; " + DAMAGED);
        }
        List<StoredTensor> expected;
        try {
            expected = storedTensors(config, dtype);
        } catch (ArithmeticException e) {
            throw new CheckpointException("checkpoint " + file + " has a config (" + describe(config)
                    + ") with more parameters than an int counts; " + DAMAGED, e);
        }
        Set<String> names = new HashSet<>();
        for (StoredTensor t : expected) {
            names.add(t.name());
            JsonElement entry = root.get(t.name());
            if (entry == null) {
                throw new CheckpointException("checkpoint " + file + " lacks tensor " + quote(t.name())
                        + " that its config (" + describe(config) + ") needs; " + DAMAGED);
            }
            checkTensor(file, t, entry);
        }
        for (String key : root.keySet()) {
            if (!key.equals(METADATA) && !names.contains(key)) {
                throw new CheckpointException("checkpoint " + file + " holds tensor " + quote(key)
                        + " that its config (" + describe(config) + ") does not have; " + DAMAGED);
            }
        }
    }

    private void checkTensor(String file, StoredTensor expected, JsonElement element) throws CheckpointException {
        String tensor = "tensor " + quote(expected.name()) + " of checkpoint " + file;
        // An entry that is not an object has none of the three fields, and is reported as malformed below.
        JsonObject entry = element.isJsonObject() ? element.getAsJsonObject() : new JsonObject();
        String dtypeName = string(entry.get("dtype"));
        long[] shape = naturals(entry.get("shape"));
        long[] offsets = naturals(entry.get("data_offsets"));
        if (dtypeName == null || shape == null || offsets == null || offsets.length != 2) {
            throw new CheckpointException(tensor + " is malformed: a safetensors entry needs \"dtype\", \"shape\" and"
                    + " \"data_offsets\" [begin, end] of non-negative integers; " + DAMAGED);
        }
        if (!dtypeName.equals(dtype.name())) {
            throw new CheckpointException(tensor + " is " + quote(dtypeName) + " but its metadata dtype is "
                    + dtype.name() + "; " + DAMAGED);
        }
        long[] expectedShape = {expected.rows(), expected.cols()};
        if (!Arrays.equals(shape, expectedShape)) {
            throw new CheckpointException(tensor + " has shape " + Arrays.toString(shape) + " but its config ("
                    + describe(config) + ") needs " + Arrays.toString(expectedShape) + "; " + DAMAGED);
        }
        long[] expectedOffsets = {expected.begin(), expected.end()};
        if (!Arrays.equals(offsets, expectedOffsets)) {
            throw new CheckpointException(tensor + " has data_offsets " + Arrays.toString(offsets) + " but must be "
                    + Arrays.toString(expectedOffsets) + ", right after the tensor before it in layout order; "
                    + DAMAGED);
        }
    }

    private static String string(JsonElement e) {
        return e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isString() ? e.getAsString() : null;
    }

    /** The values of a JSON array of non-negative integers, or null when {@code e} is anything else. */
    private static long[] naturals(JsonElement e) {
        if (e == null || !e.isJsonArray()) {
            return null;
        }
        JsonArray array = e.getAsJsonArray();
        long[] values = new long[array.size()];
        for (int i = 0; i < values.length; i++) {
            JsonElement item = array.get(i);
            // The number's own text: Gson would silently truncate 1.5 or 1e3 when asked for a long.
            if (!item.isJsonPrimitive() || !item.getAsJsonPrimitive().isNumber()
                    || !NATURAL.matcher(item.getAsString()).matches()) {
                return null;
            }
            values[i] = Long.parseLong(item.getAsString());
        }
        return values;
    }

    private static String describe(ModelConfig c) {
        return "n_embd " + c.nEmbd() + ", n_head " + c.nHead() + ", n_layer " + c.nLayer() + ", block_size "
                + c.blockSize() + ", vocab_size " + c.vocabSize();
    }

    /** Text from the file, shortened and JSON-quoted so that a message stays one readable line. */
    private static String quote(String text) {
        String shown = text.length() <= 40 ? text : text.substring(0, 40) + "...";
        return WRITER.toJson(shown);
    }

    /** Gson's account of bad JSON, without the exception's class name and the link to its troubleshooting page. */
    private static String jsonProblem(JsonParseException e) {
        String message = (e.getCause() != null ? e.getCause() : e).getMessage();
        return message == null ? "unreadable" : oneLine(message.replaceAll("\\RSee https?://\\S+", ""));
    }

    static String oneLine(String text) {
        return text == null ? "" : text.replaceAll("\\s*\\R\\s*", " ");
    }

    /** The {@code __metadata__} map, whose values are all strings; reading a field refuses it missing or malformed. */
    private record Metadata(String file, Map<String, String> values) {

        static Metadata of(String file, JsonElement element) throws CheckpointException {
            String notOurs = "checkpoint " + file + " is not a microgpt checkpoint: ";
            String fix = "; pass a checkpoint written by microgpt";
            if (element == null || !element.isJsonObject()) {
                throw new CheckpointException(notOurs + "its safetensors header has no __metadata__" + fix);
            }
            JsonObject object = element.getAsJsonObject();
            String format = string(object.get(K_FORMAT));
            if (!FORMAT.equals(format)) {
                throw new CheckpointException(notOurs + "__metadata__.format is "
                        + (format == null ? "missing" : quote(format)) + ", not \"" + FORMAT + "\"" + fix);
            }
            Map<String, String> values = new HashMap<>();
            for (Map.Entry<String, JsonElement> e : object.entrySet()) {
                String value = string(e.getValue());
                if (value == null) {
                    throw new CheckpointException("checkpoint " + file + " has metadata " + quote(e.getKey())
                            + " that is not a string, as safetensors requires; " + DAMAGED);
                }
                values.put(e.getKey(), value);
            }
            return new Metadata(file, values);
        }

        boolean has(String key) {
            return values.containsKey(key);
        }

        String text(String key) throws CheckpointException {
            String value = values.get(key);
            if (value == null) {
                throw new CheckpointException("checkpoint " + file + " lacks metadata field \"" + key + "\"; "
                        + DAMAGED);
            }
            return value;
        }

        int integer(String key) throws CheckpointException {
            String value = text(key);
            try {
                return Integer.parseInt(value);
            } catch (NumberFormatException e) {
                throw malformed(key, value, "an integer");
            }
        }

        long longInteger(String key) throws CheckpointException {
            String value = text(key);
            try {
                return Long.parseLong(value);
            } catch (NumberFormatException e) {
                throw malformed(key, value, "an integer");
            }
        }

        double decimal(String key) throws CheckpointException {
            String value = text(key);
            try {
                double d = Double.parseDouble(value);
                if (Double.isFinite(d)) {
                    return d;
                }
            } catch (NumberFormatException e) {
                // reported below, as for infinities and NaN
            }
            throw malformed(key, value, "a finite number");
        }

        String sha256(String key) throws CheckpointException {
            String value = text(key);
            if (!SHA256_HEX.matcher(value).matches()) {
                throw malformed(key, value, "a SHA-256 of 64 lowercase hex digits");
            }
            return value;
        }

        DType dtype(String key) throws CheckpointException {
            String value = text(key);
            for (DType d : DType.values()) {
                if (d.name().equals(value)) {
                    return d;
                }
            }
            throw malformed(key, value, "one of " + Arrays.toString(DType.values()));
        }

        CheckpointException malformed(String key, String value, String expected) {
            return new CheckpointException("checkpoint " + file + " has metadata \"" + key + "\" " + quote(value)
                    + ", which is not " + expected + "; " + DAMAGED);
        }

        CheckpointException invalid(String what, IllegalArgumentException e) {
            return new CheckpointException("checkpoint " + file + " has invalid " + what + " in its metadata: "
                    + oneLine(e.getMessage()) + "; " + DAMAGED, e);
        }
    }
}
