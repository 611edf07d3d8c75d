package dev.microgpt.bench.jmh;

import dev.microgpt.model.ModelConfig;
import dev.microgpt.model.ParameterLayout;
import dev.microgpt.model.Tokenizer;
import dev.microgpt.rng.PyRandom;
import java.util.List;

/**
 * What the benchmarks run on: microgpt's model at n_embd = block_size = size (4 heads, 1 layer, the 27-token vocabulary
 * of the makemore names), weights drawn as microgpt.py draws them (gauss(0, 0.08), seed 42), and fixed documents.
 */
final class Shapes {

    static final int N_HEAD = 4;
    static final int VOCAB = 27;

    /** Given names joined, as bench/run.sh's long documents are: 143 characters, enough for any context up to 142. */
    static final String FULL_DOCUMENT = "emmaoliviaavaisabellasophiacharlottemiaameliaharperevelynabigailemilyelizabeth"
            + "milaellaaverysofiacamilaariascarlettvictoriamadisonlunagracechloe";

    /** One name, as one microgpt step on names.txt sees it: 7 positions. */
    static final String NAME = "olivia";

    static final Tokenizer TOKENIZER = Tokenizer.fromDocuments(List.of("abcdefghijklmnopqrstuvwxyz"));

    private Shapes() {
    }

    static ParameterLayout layout(int size) {
        return new ParameterLayout(new ModelConfig(size, N_HEAD, 1, size, VOCAB));
    }

    static double[] initialParams(ParameterLayout layout) {
        PyRandom rng = new PyRandom(42);
        double[] params = new double[layout.size()];
        for (int i = 0; i < params.length; i++) {
            params[i] = rng.gauss(0, 0.08);
        }
        return params;
    }

    /** Deterministic values in [-scale, scale), for activations and gradients. */
    static double[] filled(int n, long seed, double scale) {
        java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
        double[] a = new double[n];
        for (int i = 0; i < n; i++) {
            a[i] = (2 * random.nextDouble() - 1) * scale;
        }
        return a;
    }
}
