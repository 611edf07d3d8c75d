package dev.microgpt.engine;

import dev.microgpt.model.ParameterLayout;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The CPU reference path: microgpt's forward over a whole document at once and its hand-derived backward in
 * matrix form, in float64 ({@link DocumentPass}), spread over the machine's cores. Every buffer is allocated once,
 * here or at the first step of a batch size; a training step allocates nothing.
 *
 * <p>Parameters, gradients and moments are kept with every linear weight transposed
 * ({@link StorageOrder#transposedLinears}): the forward then builds each output row as a sum over inputs in
 * increasing order, as microgpt.py's {@code sum(wi * xi ...)} does, with vector loads along the outputs.
 *
 * <p>A step of several documents is cut into at most {@value #MAX_GROUPS} groups of consecutive documents (fewer for a
 * very large model, {@link #groupsOf}), whatever the thread count: each group's gradient is summed on whichever thread
 * takes it, and the groups' sums are added in group order, a slice of the parameters per thread, with Adam on each
 * slice as soon as it is summed. So the threads change the speed and never the numbers: a run, or its resume, is
 * bitwise the same on any machine. A step of one document (microgpt.py's) runs on the calling thread, with Adam
 * overlapped with its backward on a second thread of the team where the model is large enough for that to pay
 * ({@link OverlappedAdam}).
 */
public final class FastEngine extends CpuEngine {

    /**
     * The most groups a step's documents are summed in. Each group past the first costs P doubles of memory and one
     * add per parameter, beside the six multiply-adds per parameter and position of each document's forward and
     * backward; 16 keeps up to 16 cores busy. Fixed, so that no machine's core count decides a sum's order.
     */
    public static final int MAX_GROUPS = 16;
    /** The most doubles the groups past the first may hold together (256 MiB): a large model sums in fewer groups. */
    private static final long MAX_GROUP_DOUBLES = 1L << 25;
    /**
     * The fewest parameters for which a one-document step overlaps Adam with its backward on a second thread: below,
     * Adam takes a few microseconds and the second thread is not worth its handoffs.
     */
    public static final int MIN_OVERLAP_PARAMETERS = 16_384;
    /** Parameters a thread adds up and updates at a time. */
    private static final int SLICE = 1024;

    private final DocumentPass[] passes; // [threads] one per team member, made when first needed; [0] also samples
    private final ThreadTeam team;
    private final OverlappedAdam overlappedAdam; // null on one thread, or for a model too small for it to pay
    private final DocumentPass.GradientsReady toAdam; // overlappedAdam::publish, bound once

    // A step's documents, handed to the members through these fields (and, when Adam is overlapped, the loss the
    // backward's member returns through overlappedLoss).
    private final ThreadTeam.Task trainOverlapped = this::trainOverlapped;
    private final ThreadTeam.Task trainGroups = this::trainGroups;
    private final ThreadTeam.Task sumGroups = this::sumGroups;
    private double overlappedLoss;
    private final AtomicInteger nextGroup = new AtomicInteger();
    private final AtomicInteger nextSlice = new AtomicInteger();
    private double[][] groupGrads = new double[0][]; // [groups - 1][P]: groups 1.. (group 0 sums into grads)
    private double[] documentLosses = new double[0]; // [B]
    private DocumentBatch batch;
    private int stepGroups;
    private AdamConfig adam; // null: sum the groups without updating
    private int step;
    private int numSteps;

    /** An engine on the calling thread alone. */
    public FastEngine(ParameterLayout layout, double[] initialParams) {
        this(layout, initialParams, 1);
    }

    /**
     * An engine that spreads a step's documents over {@code threads} threads (1 to {@value #MAX_GROUPS}), the calling
     * one included.
     */
    public FastEngine(ParameterLayout layout, double[] initialParams, int threads) {
        super(layout, initialParams, StorageOrder.transposedLinears(layout));
        checkThreads(threads);
        this.team = new ThreadTeam(threads);
        this.passes = new DocumentPass[threads];
        this.passes[0] = new DocumentPass(layout, params);
        this.overlappedAdam = threads == 1 || layout.size() < MIN_OVERLAP_PARAMETERS ? null
                : new OverlappedAdam(this::adamOnRange, layout.weightBlocks().size());
        this.toAdam = overlappedAdam == null ? DocumentPass.NOWHERE : overlappedAdam::publish;
    }

    @Override
    public String name() {
        return "cpu-fast";
    }

    /** The trainer's thread count unless told otherwise: the machine's cores, up to one a group. */
    public static int defaultThreads() {
        return Math.min(MAX_GROUPS, Runtime.getRuntime().availableProcessors());
    }

    /** Refuses a thread count outside 1..{@value #MAX_GROUPS}, naming --threads and why (IllegalArgumentException). */
    public static void checkThreads(int threads) {
        if (threads < 1 || threads > MAX_GROUPS) {
            throw new IllegalArgumentException("--threads must be in 1.." + MAX_GROUPS + " (a step's documents are"
                    + " summed in at most " + MAX_GROUPS + " groups), got " + threads);
        }
    }

    /** The threads a step's documents are spread over. */
    public int threads() {
        return team.size();
    }

    /**
     * The groups a step of {@code batchSize} documents is summed in, for a model of {@code parameters}: a function of
     * these two alone, never of the threads.
     */
    static int groupsOf(int batchSize, int parameters) {
        return (int) Math.min(Math.min(batchSize, MAX_GROUPS), 1 + MAX_GROUP_DOUBLES / parameters);
    }

    /**
     * The threads that work on a step of {@code batchSize} documents: one a group at most, and for one document two
     * where Adam is overlapped with the backward.
     */
    public int threadsAt(int batchSize) {
        return batchSize == 1 && overlappedAdam != null ? 2 : Math.min(team.size(), groupsOf(batchSize, layout.size()));
    }

    /**
     * The forward pass for positions [from, to) of one document, on the calling thread; rows before {@code from} must
     * hold this document's earlier positions (a KV cache).
     */
    public void forward(int[] tokens, int from, int to) {
        passes[0].forward(tokens, from, to);
    }

    /** Copies the logits of position {@code row} (after {@link #forward}) into dst [V]. */
    public void copyLogits(int row, double[] dst) {
        passes[0].copyLogits(row, dst);
    }

    @Override
    public double forwardBackward(DocumentBatch batch) {
        clearGradients();
        if (batch.size() == 1) {
            return passes[0].train(batch.tokens(0), batch.positions(0), 1.0, grads, DocumentPass.NOWHERE);
        }
        return trainDocuments(batch, null, 0, 0);
    }

    /**
     * A training step: one document on this thread, with Adam overlapped on a second one where that pays; several on
     * the team, Adam on each slice as it is summed.
     */
    @Override
    protected double trainStep(DocumentBatch batch, AdamConfig adam, int step, int numSteps) {
        if (batch.size() > 1) {
            clearGradients();
            return trainDocuments(batch, adam, step, numSteps);
        }
        if (overlappedAdam == null) {
            return super.trainStep(batch, adam, step, numSteps);
        }
        clearGradients();
        this.batch = batch;
        setAdam(adam, step, numSteps);
        overlappedAdam.begin();
        team.run(trainOverlapped, 2);
        if (Double.isFinite(overlappedLoss)) {
            adamApplied();
        }
        return overlappedLoss;
    }

    /** A member's part of a one-document step: the backward publishing to Adam, or Adam taking what it publishes. */
    private void trainOverlapped(int member) {
        if (member > 0) {
            overlappedAdam.help();
            return;
        }
        try {
            overlappedLoss = passes[0].train(batch.tokens(0), batch.positions(0), 1.0, grads, toAdam);
        } finally {
            overlappedAdam.endBackward(); // also when the backward failed: the helper stops only after this
        }
        overlappedAdam.help(); // what the helper has not taken yet
    }

    /**
     * The documents of {@code batch} on the team, in groups; when their mean loss is finite, the groups' gradients
     * summed into {@code grads} and, unless {@code adam} is null, Adam applied. Returns that mean, or the first loss
     * that is not finite, leaving the gradients unfinished: a diverged step is not applied.
     */
    private double trainDocuments(DocumentBatch batch, AdamConfig adam, int step, int numSteps) {
        int b = batch.size();
        int g = groupsOf(b, layout.size());
        if (groupGrads.length < g - 1) {
            groupGrads = new double[g - 1][layout.size()];
        }
        if (documentLosses.length < b) {
            documentLosses = new double[b];
        }
        for (int m = 1; m < threadsAt(b); m++) {
            if (passes[m] == null) { // a pass holds a model's activations: made for the members a batch size uses
                passes[m] = new DocumentPass(layout, params);
            }
        }
        this.batch = batch;
        this.stepGroups = g;
        nextGroup.set(0);
        team.run(trainGroups, g);
        double sum = 0;
        for (int d = 0; d < b; d++) {
            double loss = documentLosses[d];
            if (!Double.isFinite(loss)) {
                return loss;
            }
            sum += loss;
        }
        setAdam(adam, step, numSteps);
        nextSlice.set(0);
        // No more members than the documents had: a slice is a few microseconds of work, less than waking a thread.
        team.run(sumGroups, Math.min(g, (layout.size() + SLICE - 1) / SLICE));
        if (adam != null) {
            adamApplied();
        }
        return sum / b;
    }

    /** A member's part of the first task: whole groups, each summing its documents' gradients in document order. */
    private void trainGroups(int member) {
        DocumentPass pass = passes[member];
        int b = batch.size();
        double weight = batch.documentWeight();
        for (int g = nextGroup.getAndIncrement(); g < stepGroups; g = nextGroup.getAndIncrement()) {
            double[] target = g == 0 ? grads : groupGrads[g - 1];
            if (g > 0) {
                Arrays.fill(target, 0.0);
            }
            for (int d = firstDocument(g, b); d < firstDocument(g + 1, b); d++) {
                double loss = pass.train(batch.tokens(d), batch.positions(d), weight, target, DocumentPass.NOWHERE);
                documentLosses[d] = loss;
                if (!Double.isFinite(loss)) {
                    break; // the step is not applied; the documents after this one are never read
                }
            }
        }
    }

    /** Group {@code g}'s first document of {@code b}: the groups are consecutive and differ by one document at most. */
    private int firstDocument(int g, int b) {
        return (int) ((long) g * b / stepGroups);
    }

    /** A member's part of the second task: slices of the parameters, the groups added in order, then Adam. */
    private void sumGroups(int member) {
        int size = layout.size();
        for (int s = nextSlice.getAndIncrement(); s * SLICE < size; s = nextSlice.getAndIncrement()) {
            int from = s * SLICE;
            int to = Math.min(size, from + SLICE);
            for (int g = 1; g < stepGroups; g++) {
                double[] group = groupGrads[g - 1];
                for (int i = from; i < to; i++) {
                    grads[i] += group[i];
                }
            }
            if (adam != null) {
                adamOnRange(from, to);
            }
        }
    }

    /** The step's Adam settings, for the members that update ranges of the parameters ({@link #adamOnRange}). */
    private void setAdam(AdamConfig adam, int step, int numSteps) {
        this.adam = adam;
        this.step = step;
        this.numSteps = numSteps;
    }

    /** Adam with this step's settings on the parameters [from, to). */
    private void adamOnRange(int from, int to) {
        adamUpdate(adam, step, numSteps, from, to);
    }

    /** Ends the engine's threads, if training started any. */
    @Override
    public void close() {
        team.close();
    }
}
