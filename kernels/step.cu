// The fused training step: forward, loss, backward and Adam of a step in a single kernel launch, so a step costs
// one launch instead of 7 + 14 L (kernels/README.md, "One training step"); or K steps, one after another, in one
// launch (steps = K). The math is the eager kernels' own device functions (rmsnorm.cuh, matmul.cuh,
// attention.cuh, crossentropy.cuh, adam.cuh), run stage by stage in the eager launch order by a team of blocks:
//   * a tile stage (the linear layers) hands 32 x 32 output tiles to the team's blocks in turn;
//   * a row stage (rmsnorm, attention, cross-entropy) hands rows to every warp of the team in turn, an item stage
//     (the embedding's gradients) items to every thread;
//   * stages are separated by a barrier: __syncthreads() when the team is one block, otherwise a grid-wide
//     cooperative_groups sync, which needs a cooperative launch (cuLaunchCooperativeKernel) with every block
//     resident at once.
// Two ways to spread a step over the grid:
//   * one document (B = 1, block_grads NULL): the whole grid is one team on it, and Adam follows;
//   * documents side by side (B > 1, block_grads given): every block is a team of its own and takes documents
//     b = blockIdx.x, + gridDim.x, ..., adding each one's gradients (weighted 1 / B) into its own slice of
//     block_grads; after a grid-wide barrier every parameter's gradient is the sum of the slices in block order
//     (deterministic, no atomics across documents), which Adam takes, clearing the slices.
// CPU twin: the whole-step engines (dev.microgpt.engine.FastEngine.forwardBackward, then engine.Adam).
// Test: dev.microgpt.gpu.GpuEngineParityTest (the fused modes: gradients on 1, 3 and the chosen number of blocks,
// both workspaces, batches of documents; K steps a launch over 200 steps), on the emulated device in CI.
//
// Activations live in one workspace per team carved by carve_step below: global memory (workspace != NULL; one
// after another for teams of one block), or the block's dynamic shared memory when a team is one block and it fits
// (workspace == NULL). Every device function takes generic pointers, so the same code runs on either. Rows t >= n
// of the activations are never read.
//
// Launch train_step_fused: block FUSED_THREADS (256) threads; grid 1 block or up to the blocks that can be resident
// together (cooperative launch); dynamic shared memory (scratch + (workspace == NULL ? workspace floats : 0)) * 4
// bytes, the two sizes given by train_step_fused_sizes. Over 48 KiB needs
// cuFuncSetAttribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES).

#include <cooperative_groups.h>

#include "adam.cuh"
#include "attention.cuh"
#include "common.cuh"
#include "crossentropy.cuh"
#include "matmul.cuh"
#include "rmsnorm.cuh"

#define FUSED_THREADS MM_THREADS  // the matmul tiles need exactly this many threads per block
#define FUSED_WARPS (FUSED_THREADS / WARP_SIZE)

// Parameter tensors, as offsets into params / grads: tensor_offsets[] holds
//   [0] wte, [1] wpe, [2] lm_head, then for layer l at 3 + 4 l: [+0] attn_wq (the [3C, C] wq|wk|wv block),
//   [+1] attn_wo, [+2] mlp_fc1, [+3] mlp_fc2
// written by the host from dev.microgpt.model.ParameterLayout.weightBlocks (the one owner of the layout), in its order.
#define TENSOR_WTE 0
#define TENSOR_WPE 1
#define TENSOR_LM_HEAD 2
#define TENSORS_GLOBAL 3
#define LAYER_QKV 0  // a layer's tensors, from its first (lo below)
#define LAYER_WO 1
#define LAYER_FC1 2
#define LAYER_FC2 3
#define TENSORS_PER_LAYER 4

struct StepShape {
    int C;  // n_embd
    int F;  // MLP hidden width (4 n_embd: ModelConfig.mlpHidden, passed in like the eager launches' sizes)
    int H;  // n_head
    int L;  // n_layer
    int T;  // block_size
    int V;  // vocab_size
};

// One layer's activations.
struct LayerActivations {
    float* attn_norm;   // [T, C] rmsnorm of the layer input
    float* attn_scale;  // [T]
    float* qkv;         // [T, 3C]
    float* probs;       // [H, T, T]
    float* attn_out;    // [T, C]
    float* mid;         // [T, C] layer input + attention projection
    float* mlp_norm;    // [T, C]
    float* mlp_scale;   // [T]
    float* hidden;      // [T, F] ReLU output
    float* out;         // [T, C] layer output, the next layer's input
};

struct StepActivations {
    float* emb;          // [T, C] wte[tok] + wpe
    float* emb_scale;    // [T]
    float* stream0;      // [T, C] rmsnorm(emb), the first layer's input
    float* logits;       // [T, V], overwritten by dlogits
    float* row_loss;     // [T] loss of each position
    float* d_stream;     // [T, C] gradient of the residual stream
    float* d_norm;       // [T, C]
    float* d_hidden;     // [T, F]
    float* d_attn_out;   // [T, C]
    float* d_qkv;        // [T, 3C]
    float* layers;       // L runs of layer_floats floats, one LayerActivations each
    long layer_floats;
};

// Hands out consecutive buffers of a workspace, each rounded up to 4 floats (16-byte aligned). With a NULL base it
// only counts (the sizes kernel).
struct Carver {
    float* base;
    long used;

    __device__ __forceinline__ float* take(long floats) {
        long at = used;
        used += (floats + 3) & ~3L;
        return base != nullptr ? base + at : nullptr;
    }
};

__device__ __forceinline__ LayerActivations carve_layer(Carver& c, const StepShape& s) {
    long tc = (long)s.T * s.C;
    LayerActivations la;
    la.attn_norm = c.take(tc);
    la.attn_scale = c.take(s.T);
    la.qkv = c.take(3 * tc);
    la.probs = c.take((long)s.H * s.T * s.T);
    la.attn_out = c.take(tc);
    la.mid = c.take(tc);
    la.mlp_norm = c.take(tc);
    la.mlp_scale = c.take(s.T);
    la.hidden = c.take((long)s.T * s.F);
    la.out = c.take(tc);
    return la;
}

__device__ __forceinline__ long layer_floats(const StepShape& s) {
    Carver c{nullptr, 0};
    carve_layer(c, s);
    return c.used;
}

// The step's activations in workspace; returns the floats used in *total when total != NULL.
__device__ __forceinline__ StepActivations carve_step(float* workspace, const StepShape& s, long* total) {
    long tc = (long)s.T * s.C;
    Carver c{workspace, 0};
    StepActivations a;
    a.emb = c.take(tc);
    a.emb_scale = c.take(s.T);
    a.stream0 = c.take(tc);
    a.logits = c.take((long)s.T * s.V);
    a.row_loss = c.take(s.T);
    a.d_stream = c.take(tc);
    a.d_norm = c.take(tc);
    a.d_hidden = c.take((long)s.T * s.F);
    a.d_attn_out = c.take(tc);
    a.d_qkv = c.take(3 * tc);
    a.layer_floats = layer_floats(s);
    a.layers = c.take(a.layer_floats * s.L);
    if (total != nullptr) {
        *total = c.used;
    }
    return a;
}

__device__ __forceinline__ LayerActivations layer_activations(const StepActivations& a, const StepShape& s, int l) {
    Carver c{a.layers + (long)l * a.layer_floats, 0};
    return carve_layer(c, s);
}

// Shared scratch per block: the matmul staging tiles, or every warp's attention scratch (one stage at a time).
__device__ __forceinline__ long fused_scratch_floats(const StepShape& s) {
    long attention = (long)FUSED_WARPS * ATTN_SCRATCH_FLOATS(s.C / s.H, s.T);
    return attention > MM_STAGING_FLOATS ? attention : MM_STAGING_FLOATS;
}

// ---------------------------------------------------------------------------------------------------------
// Work distribution over a team of blocks
// ---------------------------------------------------------------------------------------------------------

// The stages below, the barrier between them, and document_step are each one out-of-line function, called from
// every place that runs them. Inlined at each call site, they made the kernel's machine code for sm_90 630 KB long
// (195 KB so), run through once a step, and on an H100 half of the one-block step's stalls waited for instruction
// fetch (bench/results/2026-11-28-h100.md).
#define FUSED_OUT_OF_LINE __noinline__

// Every write of the stage before is visible to every thread of the team of `blocks` blocks after it.
__device__ FUSED_OUT_OF_LINE void team_barrier(int blocks) {
    if (blocks == 1) {
        __syncthreads();
    } else {
        cooperative_groups::this_grid().sync();
    }
}

// The blocks that work on one document together: the whole grid, or a block alone.
struct Team {
    int block;   // this block's index in the team
    int blocks;  // the team's blocks

    static __device__ __forceinline__ Team whole_grid() {
        return Team{(int)blockIdx.x, (int)gridDim.x};
    }

    static __device__ __forceinline__ Team alone() {
        return Team{0, 1};
    }

    // Every write of the stage before is visible to every thread of the team after it.
    __device__ __forceinline__ void barrier() const {
        team_barrier(blocks);
    }

    // Items [0, count) to the blocks in turn; f(item) is called by every thread of the block (block-uniform).
    template <class F>
    __device__ __forceinline__ void each_block_item(int count, F f) const {
        for (int i = block; i < count; i += blocks) {
            f(i);
        }
    }

    // Items [0, count) to every warp of the team in turn; f(item) is called by the 32 lanes of a warp.
    template <class F>
    __device__ __forceinline__ void each_warp_item(int count, F f) const {
        int warps = blocks * FUSED_WARPS;
        for (int i = block * FUSED_WARPS + warp_in_block(); i < count; i += warps) {
            f(i);
        }
    }

    // Items [0, count) to every thread of the team in turn.
    template <class F>
    __device__ __forceinline__ void each_thread_item(long count, F f) const {
        long threads = (long)blocks * FUSED_THREADS;
        for (long i = (long)block * FUSED_THREADS + threadIdx.x; i < count; i += threads) {
            f(i);
        }
    }

    // Whether this thread is the team's first warp.
    __device__ __forceinline__ bool first_warp() const {
        return block == 0 && warp_in_block() == 0;
    }
};

__device__ __forceinline__ MmStage staging_a(float* scratch) {
    return reinterpret_cast<MmStage>(scratch);
}

__device__ __forceinline__ MmStage staging_b(float* scratch) {
    return reinterpret_cast<MmStage>(scratch + MM_TILE * (MM_TILE + 1));
}

// y [T, out] = relu?(x [T, in] . W^T) + residual over the document's positions: the tiles of one linear_forward
// launch.
__device__ FUSED_OUT_OF_LINE void linear_forward_stage(Team team, float* y, const float* x, const float* w,
                                                       const float* residual, int in, int out, bool relu, Batch doc,
                                                       float* scratch) {
    int cols = CEIL_DIV(out, MM_TILE);
    team.each_block_item(CEIL_DIV(doc.row_limit(), MM_TILE) * cols, [&](int i) {
        linear_forward_tile(i / cols, i % cols, y, x, w, residual, in, out, relu, doc, staging_a(scratch),
                            staging_b(scratch));
    });
}

// dx [T, in] = dy . W and dW [out, in] += dy^T . x (dy masked by dy_mask): the tiles of one linear_backward launch.
__device__ FUSED_OUT_OF_LINE void linear_backward_stage(Team team, float* dx, float* dw, const float* dy,
                                                        const float* x, const float* w, const float* dy_mask, int in,
                                                        int out, Batch doc, float* scratch) {
    int cols = CEIL_DIV(in, MM_TILE);
    int dx_tiles = CEIL_DIV(doc.row_limit(), MM_TILE) * cols;
    int dw_tiles = CEIL_DIV(out, MM_TILE) * cols;
    team.each_block_item(dx_tiles + dw_tiles, [&](int i) {
        if (i < dx_tiles) {
            linear_backward_dx_tile(i / cols, i % cols, dx, dy, w, dy_mask, in, out, doc, staging_a(scratch),
                                    staging_b(scratch));
        } else {
            int j = i - dx_tiles;
            linear_backward_dw_tile(j / cols, j % cols, dw, dy, x, dy_mask, in, out, doc, staging_a(scratch),
                                    staging_b(scratch));
        }
    });
}

// y [T, C], scale [T] = rmsnorm(x [T, C]) over the document's positions, a row to a warp.
__device__ FUSED_OUT_OF_LINE void rmsnorm_forward_stage(Team team, int n, float* y, float* scale, const float* x,
                                                        int C) {
    team.each_warp_item(n, [&](int t) { rmsnorm_forward_row(t, y, scale, x, C); });
}

// dx [T, C] (+)= the gradient through rmsnorm of dy [T, C], a row to a warp.
__device__ FUSED_OUT_OF_LINE void rmsnorm_backward_stage(Team team, int n, float* dx, const float* dy, const float* x,
                                                         const float* scale, int C, bool accumulate) {
    team.each_warp_item(n, [&](int t) { rmsnorm_backward_row(t, dx, dy, x, scale, C, accumulate); });
}

// out [T, C], probs [H, T, T] from qkv [T, 3C]: every head's rows of one attention_forward launch.
__device__ FUSED_OUT_OF_LINE void attention_forward_stage(Team team, int n, float* out, float* probs, const float* qkv,
                                                          int C, int H, int T, float* warp_scratch) {
    team.each_warp_item(H * n, [&](int i) {
        attention_forward_row(i % n, i / n, out, probs, qkv, C, H, T, warp_scratch);
    });
}

// d_qkv [T, 3C] from d_out [T, C]: the query rows, then the key and value rows, of one attention_backward launch.
__device__ FUSED_OUT_OF_LINE void attention_backward_stage(Team team, int n, float* d_qkv, const float* d_out,
                                                           const float* qkv, const float* probs, const float* out,
                                                           int C, int H, int T, float* warp_scratch) {
    team.each_warp_item(2 * H * n, [&](int i) {
        int r = i % (H * n);
        if (i < H * n) {
            attention_backward_query_row(r % n, r / n, d_qkv, d_out, qkv, probs, out, C, H, T, warp_scratch);
        } else {
            attention_backward_key_row(r % n, r / n, d_qkv, d_out, qkv, probs, out, C, H, T, n, warp_scratch);
        }
    });
}

// ---------------------------------------------------------------------------------------------------------
// Kernels
// ---------------------------------------------------------------------------------------------------------

// Forward, loss and backward of one document (doc, a batch of one) by a team, as the eager launches would run
// them: its gradients, weighted by `weight` (its share of the step's loss, 1 / B), are added into grads. Returns
// the document's mean loss in lane 0 of the team's first warp (which sums it while the backward starts), 0
// elsewhere. a: the team's activations; scratch: this block's shared scratch.
__device__ FUSED_OUT_OF_LINE float document_step(Team team, const float* params, float* grads,
                                                 const int* tensor_offsets, StepActivations a, float* scratch,
                                                 StepShape shape, Batch doc, float weight) {
    const int C = shape.C, F = shape.F, H = shape.H, L = shape.L, T = shape.T, V = shape.V;
    float* warp_scratch = scratch + (long)warp_in_block() * ATTN_SCRATCH_FLOATS(C / H, T);
    const int* tokens = doc.tokens(0);
    const int n = doc.positions(0);
    const float inv_n = 1.0f / (float)n;
    const float* wte = params + tensor_offsets[TENSOR_WTE];
    const float* wpe = params + tensor_offsets[TENSOR_WPE];
    const float* lm_head = params + tensor_offsets[TENSOR_LM_HEAD];

    // Forward.
    team.each_warp_item(n, [&](int t) {
        embedding_rmsnorm_forward_row(t, t, a.emb, a.stream0, a.emb_scale, tokens, wte, wpe, C);
    });
    team.barrier();
    const float* stream = a.stream0;
    for (int l = 0; l < L; l++) {
        LayerActivations la = layer_activations(a, shape, l);
        const int* lo = tensor_offsets + TENSORS_GLOBAL + TENSORS_PER_LAYER * l;
        rmsnorm_forward_stage(team, n, la.attn_norm, la.attn_scale, stream, C);
        team.barrier();
        linear_forward_stage(team, la.qkv, la.attn_norm, params + lo[LAYER_QKV], nullptr, C, 3 * C, false, doc,
                             scratch);
        team.barrier();
        attention_forward_stage(team, n, la.attn_out, la.probs, la.qkv, C, H, T, warp_scratch);
        team.barrier();
        linear_forward_stage(team, la.mid, la.attn_out, params + lo[LAYER_WO], stream, C, C, false, doc, scratch);
        team.barrier();
        rmsnorm_forward_stage(team, n, la.mlp_norm, la.mlp_scale, la.mid, C);
        team.barrier();
        linear_forward_stage(team, la.hidden, la.mlp_norm, params + lo[LAYER_FC1], nullptr, C, F, true, doc, scratch);
        team.barrier();
        linear_forward_stage(team, la.out, la.hidden, params + lo[LAYER_FC2], la.mid, F, C, false, doc, scratch);
        team.barrier();
        stream = la.out;
    }
    linear_forward_stage(team, a.logits, stream, lm_head, nullptr, C, V, false, doc, scratch);
    team.barrier();

    // Loss: dlogits in place of the logits, and each position's loss.
    team.each_warp_item(n, [&](int t) {
        float loss = crossentropy_row(t, a.logits, a.logits, tokens, V, inv_n * weight);
        if (lane_id() == 0) {
            a.row_loss[t] = loss;
        }
    });
    team.barrier();

    // Backward. One warp sums the positions' losses in a fixed order (deterministic) while the rest starts.
    float mean = 0.0f;
    if (team.first_warp()) {
        float sum = 0.0f;
        for (int t = lane_id(); t < n; t += WARP_SIZE) {
            sum += a.row_loss[t];
        }
        sum = warp_sum(sum);
        if (lane_id() == 0) {
            mean = inv_n * sum;
        }
    }
    linear_backward_stage(team, a.d_stream, grads + tensor_offsets[TENSOR_LM_HEAD], a.logits, stream, lm_head,
                          nullptr, C, V, doc, scratch);
    team.barrier();
    for (int l = L - 1; l >= 0; l--) {
        LayerActivations la = layer_activations(a, shape, l);
        const float* block_in = l == 0 ? a.stream0 : layer_activations(a, shape, l - 1).out;
        const int* lo = tensor_offsets + TENSORS_GLOBAL + TENSORS_PER_LAYER * l;
        linear_backward_stage(team, a.d_hidden, grads + lo[LAYER_FC2], a.d_stream, la.hidden, params + lo[LAYER_FC2],
                              nullptr, F, C, doc, scratch);
        team.barrier();
        linear_backward_stage(team, a.d_norm, grads + lo[LAYER_FC1], a.d_hidden, la.mlp_norm, params + lo[LAYER_FC1],
                              la.hidden, C, F, doc, scratch);
        team.barrier();
        rmsnorm_backward_stage(team, n, a.d_stream, a.d_norm, la.mid, la.mlp_scale, C, true);
        team.barrier();
        linear_backward_stage(team, a.d_attn_out, grads + lo[LAYER_WO], a.d_stream, la.attn_out, params + lo[LAYER_WO],
                              nullptr, C, C, doc, scratch);
        team.barrier();
        attention_backward_stage(team, n, a.d_qkv, a.d_attn_out, la.qkv, la.probs, la.attn_out, C, H, T,
                                 warp_scratch);
        team.barrier();
        linear_backward_stage(team, a.d_norm, grads + lo[LAYER_QKV], a.d_qkv, la.attn_norm, params + lo[LAYER_QKV],
                              nullptr, C, 3 * C, doc, scratch);
        team.barrier();
        rmsnorm_backward_stage(team, n, a.d_stream, a.d_norm, block_in, la.attn_scale, C, true);
        team.barrier();
    }
    // The embedding: d(emb) through the first norm, then its rows into dwte and dwpe, item by item.
    rmsnorm_backward_stage(team, n, a.d_norm, a.d_stream, a.emb, a.emb_scale, C, false);
    team.barrier();
    team.each_thread_item((long)(V + T) * C, [&](long i) {
        embedding_backward_item(i, grads + tensor_offsets[TENSOR_WTE], grads + tensor_offsets[TENSOR_WPE], a.d_norm,
                                doc, C, V);
    });
    return mean;
}

// A step of one document, the whole grid on it: its gradients in grads, then Adam over every parameter with the
// grid's threads striding together (when update).
__device__ __forceinline__ void one_document_step(float* params, float* grads, float* adam_m, float* adam_v,
                                                  float* losses, const int* tensor_offsets, const StepActivations& a,
                                                  float* scratch, const StepShape& shape, int num_params,
                                                  const AdamFactors& adam, bool update, const Batch& batch) {
    const Team team = Team::whole_grid();
    float mean = document_step(team, params, grads, tensor_offsets, a, scratch, shape, batch.document(0), 1.0f);
    if (team.first_warp() && lane_id() == 0) {
        store_step_loss(losses, batch.step(), mean);
    }
    if (update) {
        team.barrier();
        adam_update_strided(params, grads, adam_m, adam_v, num_params,
                            blockIdx.x * (long)FUSED_THREADS + threadIdx.x, (long)gridDim.x * FUSED_THREADS, adam);
    }
}

// A step of B documents side by side: each block a team taking documents in turn, its gradients into its slice of
// block_grads; then every parameter's gradient is the slices' sum in block order, for Adam (when update) or into
// grads. The step's loss is the mean of the documents' means.
__device__ __forceinline__ void documents_side_by_side_step(float* params, float* grads, float* adam_m, float* adam_v,
                                                            float* losses, const int* tensor_offsets,
                                                            float* block_grads, float* block_losses,
                                                            const StepActivations& a, float* scratch,
                                                            const StepShape& shape, int num_params,
                                                            const AdamFactors& adam, bool update,
                                                            const Batch& batch) {
    const float weight = 1.0f / (float)batch.B;
    float* own_grads = block_grads + (long)blockIdx.x * num_params;
    float block_loss = 0.0f;  // thread 0's: the sum of this block's documents' mean losses
    for (int b = blockIdx.x; b < batch.B; b += gridDim.x) {
        if (b != (int)blockIdx.x) {
            __syncthreads();  // the previous document is done with the activations
        }
        float mean = document_step(Team::alone(), params, own_grads, tensor_offsets, a, scratch, shape,
                                   batch.document(b), weight);
        if (threadIdx.x == 0) {  // lane 0 of the team's first warp
            block_loss += mean;
        }
    }
    if (threadIdx.x == 0) {
        block_losses[blockIdx.x] = block_loss;
    }
    Team::whole_grid().barrier();

    long first = blockIdx.x * (long)FUSED_THREADS + threadIdx.x;
    long stride = (long)gridDim.x * FUSED_THREADS;
    for (long i = first; i < num_params; i += stride) {
        float g = 0.0f;
        for (int s = 0; s < (int)gridDim.x; s++) {
            float* slice = block_grads + (long)s * num_params + i;
            g += *slice;
            *slice = 0.0f;
        }
        if (update) {
            adam_update_element(i, g, params, adam_m, adam_v, adam);
        } else {
            grads[i] = g;
        }
    }
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        float sum = 0.0f;
        for (int s = 0; s < (int)gridDim.x; s++) {
            sum += block_losses[s];
        }
        store_step_loss(losses, batch.step(), weight * sum);
    }
}

// One block per SM (the grid is at most one block per SM anyway): lets ptxas use up to 255 registers, which the
// step needs to run without spills (PtxAssemblyTest prints how many it uses).
extern "C" __global__ void __launch_bounds__(FUSED_THREADS, 1)
train_step_fused(float* params,                     // [P] updated by Adam
                 float* grads,                      // [P] zero on entry; zero on exit, or the gradients (update = 0)
                 float* adam_m,                     // [P]
                 float* adam_v,                     // [P]
                 float* losses,                     // [num_steps] losses[step] = the step's mean loss
                 const int* tensor_offsets,         // [3 + 4 L], see TENSOR_* above
                 float* workspace,                  // [teams][train_step_fused_sizes[0]] global, or NULL: shared
                 float* block_grads,                // [gridDim.x][P] zero on entry and exit, or NULL: one document
                 float* block_losses,               // [gridDim.x], with block_grads
                 int C, int F, int H, int L, int T, int V,  // n_embd, MLP hidden width, n_head, n_layer,
                                                             // block_size, vocab_size
                 int num_params,                    // P
                 double lr, double beta1, double beta2, double eps,
                 int update,                        // 1: Adam updates params and clears grads; 0: the step ends
                                                    //    with its gradients in grads (the engine's forwardBackward)
                 int steps,                         // consecutive training steps to run (1 with update = 0)
                 const int* slots,                  // [steps][B][slot_ints]: each step's documents (Batch)
                 int slot_ints, int B) {
    extern __shared__ float fused_smem[];
    const StepShape shape{C, F, H, L, T, V};
    float* scratch = fused_smem;
    long workspace_floats = 0;
    carve_step(nullptr, shape, &workspace_floats);
    float* own_workspace = workspace == nullptr ? fused_smem + fused_scratch_floats(shape)
                           : block_grads == nullptr ? workspace : workspace + (long)blockIdx.x * workspace_floats;
    StepActivations a = carve_step(own_workspace, shape, nullptr);
    for (int k = 0; k < steps; k++) {
        if (k > 0) {
            Team::whole_grid().barrier();  // the previous step's Adam has finished with every weight this step reads
        }
        const Batch batch{slots + (long)k * B * slot_ints, slot_ints, B, T};
        AdamFactors adam = adam_factors(lr, beta1, beta2, eps, batch.step());
        if (block_grads == nullptr) {
            one_document_step(params, grads, adam_m, adam_v, losses, tensor_offsets, a, scratch, shape, num_params,
                              adam, update != 0, batch);
        } else {
            documents_side_by_side_step(params, grads, adam_m, adam_v, losses, tensor_offsets, block_grads,
                                        block_losses, a, scratch, shape, num_params, adam, update != 0, batch);
        }
    }
}

// sizes[0] = floats of train_step_fused's workspace, sizes[1] = floats of its shared scratch per block.
// Launch: grid 1, block 1 (once, when the engine is built).
extern "C" __global__ void
train_step_fused_sizes(long long* sizes,            // [2] output
                       int C, int F, int H, int L, int T, int V) {
    const StepShape shape{C, F, H, L, T, V};
    long total = 0;
    carve_step(nullptr, shape, &total);
    sizes[0] = total;
    sizes[1] = fused_scratch_floats(shape);
}
