package dev.microgpt.data;

import dev.microgpt.files.ReplacedFile;
import dev.microgpt.files.Sha256;
import dev.microgpt.model.Documents;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Resolves the {@code --input} option into the documents to train on, as microgpt.py does and one step further:
 * <ol>
 *   <li>a file given explicitly is read with {@link Documents#read}, once (it may be a pipe), {@code -} standard input;
 *       their errors propagate unchanged;</li>
 *   <li>otherwise {@code input.txt} in the working directory is read when it exists;</li>
 *   <li>otherwise the makemore names are downloaded from their pinned commit, checked against their SHA-256 and
 *       saved as {@code input.txt} (atomically, so an interrupted download never leaves a truncated file);</li>
 *   <li>when that download fails or does not match its checksum, the built-in list of names is used, from memory;
 *       nothing is written.</li>
 * </ol>
 * Nothing is logged here: the returned {@link Dataset#description()} is the one line the caller prints, so the
 * caller decides the level and whether {@code --quiet} silences it. A description for the built-in list says why the
 * download failed, which deserves a warning.
 */
public final class DatasetSource {

    /** The file microgpt.py reads, relative to the working directory. */
    public static final String DEFAULT_INPUT = "input.txt";
    /** Where microgpt.py downloads its dataset from: makemore's names at commit 988aa59. */
    public static final URI MAKEMORE_NAMES_URL =
            URI.create("https://raw.githubusercontent.com/karpathy/makemore/988aa59/names.txt");
    /** The {@code --input} that names standard input. */
    public static final Path STANDARD_INPUT = Path.of("-");
    /** SHA-256 of the file at {@link #MAKEMORE_NAMES_URL}. */
    public static final String MAKEMORE_NAMES_SHA256 = "0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d";

    private final Path defaultInput;
    private final VerifiedDownload download;

    /** Reads or creates {@code input.txt} in the working directory, downloading the makemore names. */
    public DatasetSource() {
        this(Path.of(""), MAKEMORE_NAMES_URL, MAKEMORE_NAMES_SHA256);
    }

    /** For tests: another directory for {@code input.txt} and another file to download. */
    DatasetSource(Path directory, URI namesUrl, String expectedSha256) {
        this.defaultInput = directory.resolve(DEFAULT_INPUT);
        this.download = new VerifiedDownload(namesUrl, expectedSha256);
    }

    /**
     * The documents for an {@code --input} option.
     *
     * @param explicitInput the file the user named, or null when the option was not given
     * @throws Documents.DatasetException for a named file that is missing, empty or not UTF-8, for an existing
     *                                    {@code input.txt} with those problems, or when downloaded names cannot be
     *                                    saved; the message is one line
     * @throws IOException                for other failures to read a file
     */
    public Dataset resolve(Path explicitInput) throws IOException {
        if (STANDARD_INPUT.equals(explicitInput)) {
            return readStandardInput(System.in);
        }
        return explicitInput != null ? readFile(explicitInput) : readDefault();
    }

    /** The documents of a file named by the user, read once; never downloads and never falls back. */
    public Dataset readFile(Path file) throws IOException {
        byte[] bytes = Documents.readBytes(file);
        return new Dataset(Documents.decode(bytes, "input file " + file), Dataset.Origin.FILE, "read " + file,
                Sha256.hex(bytes));
    }

    /** The documents piped in, for {@code --input -}. */
    static Dataset readStandardInput(InputStream in) throws IOException {
        byte[] bytes;
        try {
            bytes = in.readAllBytes();
        } catch (IOException e) {
            throw new Documents.DatasetException("cannot read standard input (" + e.getMessage() + "); pipe the"
                    + " documents in, one per line, or pass --input FILE");
        }
        return new Dataset(Documents.decode(bytes, "standard input"), Dataset.Origin.FILE, "read standard input",
                Sha256.hex(bytes));
    }

    /** The documents of {@code input.txt}, downloading it first, or the built-in names when that fails. */
    public Dataset readDefault() throws IOException {
        if (Files.exists(defaultInput)) {
            return readFile(defaultInput);
        }
        byte[] names;
        try {
            names = download.fetch();
        } catch (VerifiedDownload.FailedException e) {
            return builtin(defaultInput + " not found and the download failed (" + e.getMessage() + ")");
        }
        save(names);
        return new Dataset(Documents.read(defaultInput), Dataset.Origin.DOWNLOADED,
                "downloaded the makemore names to " + defaultInput + " (sha256 verified)", Sha256.hex(names));
    }

    /** Saves the download whole or not at all ({@link ReplacedFile}), so readers never see a partial input.txt. */
    private void save(byte[] bytes) throws IOException {
        try {
            ReplacedFile.write(defaultInput, (OutputStream out) -> out.write(bytes));
        } catch (IOException e) {
            throw new Documents.DatasetException("downloaded the makemore names but cannot save them as "
                    + defaultInput + " (" + e.getClass().getSimpleName() + "); run in a writable directory or pass --input FILE");
        }
    }

    /** Whether {@code sha256} is that of the built-in names, the dataset of a run that had no input.txt nor network. */
    public static boolean isBuiltinNames(String sha256) {
        return Sha256.hex(BuiltinNames.bytes()).equals(sha256);
    }

    private static Dataset builtin(String why) {
        byte[] bytes = BuiltinNames.bytes();
        List<String> names = Documents.parse(new String(bytes, StandardCharsets.UTF_8));
        String description = String.format(Locale.ROOT, "%s; training on the built-in list of %,d names", why, names.size());
        return new Dataset(names, Dataset.Origin.BUILT_IN, description, Sha256.hex(bytes));
    }
}
