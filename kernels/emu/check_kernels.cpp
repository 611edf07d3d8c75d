// Host check of kernels/*.cu (run through cuda_emu.h) against float64 references written from the Java CPU
// twins (dev.microgpt.ops.*, engine.Adam). Built and run by check_kernels.sh.
#include "rmsnorm.cu"
#include "linear.cu"
#include "qkv.cu"
#include "attention.cu"
#include "crossentropy.cu"
#include "adam.cu"
#include "step.cu"

#include <algorithm>
#include <random>
#include <string>

static int passed = 0, failed = 0;
static std::mt19937 rng(1234);

static std::vector<float> randv(size_t n, float scale = 1.0f) {
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}
static std::vector<double> tod(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

// Compares got[i] to want[i] for i in idx-range [0, n); tolerance atol + rtol |want|.
static void check(const std::string& name, const float* got, const double* want, size_t n,
                  double atol = 2e-5, double rtol = 2e-4) {
    double worst = 0;
    size_t at = 0;
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        double err = std::fabs((double)got[i] - want[i]);
        double lim = atol + rtol * std::fabs(want[i]);
        if (!(err <= lim)) ok = false;
        double rel = err / lim;
        if (!(rel <= worst)) { worst = rel; at = i; }
    }
    if (ok) {
        passed++;
    } else {
        failed++;
        std::printf("FAIL %s: element %zu got %.9g want %.9g (%zu elements)\n", name.c_str(), at, got[at], want[at], n);
    }
}
static void check(const std::string& name, const std::vector<float>& got, const std::vector<double>& want) {
    check(name, got.data(), want.data(), want.size());
}

static const int BLOCK_ROWS = 128;  // warp-per-row kernels: 4 rows per block

// ---------------- references (float64, as the Java twins) ----------------
static void ref_rms_fwd(const std::vector<double>& x, std::vector<double>& y, std::vector<double>& s, int n, int C) {
    for (int t = 0; t < n; t++) {
        double ss = 0;
        for (int j = 0; j < C; j++) ss += x[t * C + j] * x[t * C + j];
        s[t] = std::pow(ss * (1.0 / C) + 1e-5, -0.5);
        for (int j = 0; j < C; j++) y[t * C + j] = x[t * C + j] * s[t];
    }
}
static void ref_rms_bwd(const std::vector<double>& x, const std::vector<double>& s, const std::vector<double>& dy,
                        std::vector<double>& dx, int n, int C) {
    for (int t = 0; t < n; t++) {
        double dot = 0;
        for (int j = 0; j < C; j++) dot += dy[t * C + j] * x[t * C + j];
        double c = -s[t] * s[t] * s[t] / C * dot;
        for (int j = 0; j < C; j++) dx[t * C + j] += s[t] * dy[t * C + j] + c * x[t * C + j];
    }
}

// ---------------- tests ----------------
static void test_embedding_rmsnorm(int T, int C, int V, int n) {
    std::string tag = " T=" + std::to_string(T) + " C=" + std::to_string(C) + " n=" + std::to_string(n);
    StepScalars ss{3, n, 10, 0};
    std::vector<int> tok(T + 1);
    for (auto& t : tok) t = rng() % V;
    tok[0] = tok[2 % (T + 1)];  // a repeated token for the atomic scatter
    auto wte = randv((size_t)V * C, 0.5f), wpe = randv((size_t)T * C, 0.5f);
    dim3 grid(CEIL_DIV(T, BLOCK_ROWS / 32));
    // the embedding sum, as the fused kernel below must compute it
    std::vector<double> xe(T * C, 7.0);
    for (int t = 0; t < n; t++)
        for (int j = 0; j < C; j++) xe[t * C + j] = (double)wte[tok[t] * C + j] + wpe[t * C + j];
    // embedding_rmsnorm_forward
    std::vector<float> emb(T * C, 7.0f), y(T * C, 7.0f), sc(T, 7.0f);
    emu_launch(embedding_rmsnorm_forward, grid, dim3(BLOCK_ROWS), 0, emb.data(), y.data(), sc.data(),
               (const int*)tok.data(), (const float*)wte.data(), (const float*)wpe.data(), C, T, (const StepScalars*)&ss);
    std::vector<double> ye(T * C, 7.0), se(T, 7.0);
    ref_rms_fwd(xe, ye, se, n, C);
    check("embedding_rmsnorm_forward emb" + tag, emb, xe);
    check("embedding_rmsnorm_forward y" + tag, y, ye);
    check("embedding_rmsnorm_forward scale" + tag, sc, se);
    // rmsnorm_forward
    auto xin = randv(T * C, 1.5f);
    std::vector<float> y2(T * C, 7.0f), s2(T, 7.0f);
    emu_launch(rmsnorm_forward, grid, dim3(BLOCK_ROWS), 0, y2.data(), s2.data(), (const float*)xin.data(), C, T,
               (const StepScalars*)&ss);
    std::vector<double> y2e(T * C, 7.0), s2e(T, 7.0);
    ref_rms_fwd(tod(xin), y2e, s2e, n, C);
    check("rmsnorm_forward y" + tag, y2, y2e);
    check("rmsnorm_forward scale" + tag, s2, s2e);
    // rmsnorm_backward, accumulate and overwrite
    auto dy = randv(T * C);
    for (int acc = 0; acc <= 1; acc++) {
        auto dx0 = randv(T * C);
        std::vector<float> dx = dx0;
        emu_launch(rmsnorm_backward, grid, dim3(BLOCK_ROWS), 0, dx.data(), (const float*)dy.data(),
                   (const float*)xin.data(), (const float*)s2.data(), C, acc, T, (const StepScalars*)&ss);
        std::vector<double> dxe = tod(dx0);
        if (!acc)
            for (int i = 0; i < n * C; i++) dxe[i] = 0;
        ref_rms_bwd(tod(xin), tod(s2), tod(dy), dxe, n, C);
        check("rmsnorm_backward acc=" + std::to_string(acc) + tag, dx, dxe);
    }
    // rmsnorm_embedding_backward
    auto dwte0 = randv((size_t)V * C), dwpe0 = randv((size_t)T * C);
    {
        std::vector<float> dwte = dwte0, dwpe = dwpe0;
        emu_launch(rmsnorm_embedding_backward, grid, dim3(BLOCK_ROWS), 0, dwte.data(), dwpe.data(),
                   (const float*)dy.data(), (const float*)emb.data(), (const float*)sc.data(), (const int*)tok.data(),
                   C, T, (const StepScalars*)&ss);
        std::vector<double> d(T * C, 0.0);
        ref_rms_bwd(tod(emb), tod(sc), tod(dy), d, n, C);
        std::vector<double> dwtee = tod(dwte0), dwpee = tod(dwpe0);
        for (int t = 0; t < n; t++)
            for (int j = 0; j < C; j++) {
                dwtee[tok[t] * C + j] += d[t * C + j];
                dwpee[t * C + j] += d[t * C + j];
            }
        check("rmsnorm_embedding_backward dwte" + tag, dwte, dwtee);
        check("rmsnorm_embedding_backward dwpe" + tag, dwpe, dwpee);
    }
}

// Linear via linear_* (qkv = false) or qkv_* (qkv = true: out = 3 in, no relu / residual / mask).
static void test_linear(int T, int in, int out, int n, bool relu, bool residual, bool qkv) {
    std::string tag = std::string(qkv ? "qkv" : "linear") + " T=" + std::to_string(T) + " in=" + std::to_string(in) +
                      " out=" + std::to_string(out) + " n=" + std::to_string(n) + (relu ? " relu" : "") +
                      (residual ? " residual" : "");
    StepScalars ss{0, n, 10, 0};
    auto x = randv((size_t)T * in), w = randv((size_t)out * in, 0.3f), res = randv((size_t)T * out);
    std::vector<float> y(T * out, 7.0f);
    dim3 fgrid(CEIL_DIV(out, 32), CEIL_DIV(T, 32));
    if (qkv)
        emu_launch(qkv_forward, fgrid, dim3(256), 0, y.data(), (const float*)x.data(), (const float*)w.data(), in, T,
                   (const StepScalars*)&ss);
    else
        emu_launch(linear_forward, fgrid, dim3(256), 0, y.data(), (const float*)x.data(), (const float*)w.data(),
                   (const float*)(residual ? res.data() : nullptr), in, out, relu ? 1 : 0, T, (const StepScalars*)&ss);
    std::vector<double> ye(T * out, 7.0);
    for (int t = 0; t < n; t++)
        for (int o = 0; o < out; o++) {
            double acc = 0;
            for (int i = 0; i < in; i++) acc += (double)x[t * in + i] * w[o * in + i];
            if (relu) acc = std::max(acc, 0.0);
            if (residual) acc += res[t * out + o];
            ye[t * out + o] = acc;
        }
    check(tag + " forward", y, ye);
    // backward: the mask is the forward output when relu
    auto dy = randv((size_t)T * out), dw0 = randv((size_t)out * in);
    std::vector<float> dx(T * in, 7.0f), dw = dw0;
    dim3 bgrid(CEIL_DIV(in, 32), CEIL_DIV(T, 32) + CEIL_DIV(out, 32));
    if (qkv)
        emu_launch(qkv_backward, bgrid, dim3(256), 0, dx.data(), dw.data(), (const float*)dy.data(),
                   (const float*)x.data(), (const float*)w.data(), in, T, (const StepScalars*)&ss);
    else
        emu_launch(linear_backward, bgrid, dim3(256), 0, dx.data(), dw.data(), (const float*)dy.data(),
                   (const float*)x.data(), (const float*)w.data(), (const float*)(relu ? y.data() : nullptr), in, out,
                   T, (const StepScalars*)&ss);
    std::vector<double> dye = tod(dy);
    if (relu)
        for (int i = 0; i < n * out; i++)
            if (!(y[i] > 0)) dye[i] = 0;
    std::vector<double> dxe(T * in, 7.0), dwe = tod(dw0);
    for (int t = 0; t < n; t++)
        for (int i = 0; i < in; i++) {
            double acc = 0;
            for (int o = 0; o < out; o++) acc += dye[t * out + o] * w[o * in + i];
            dxe[t * in + i] = acc;
        }
    for (int o = 0; o < out; o++)
        for (int i = 0; i < in; i++)
            for (int t = 0; t < n; t++) dwe[o * in + i] += dye[t * out + o] * x[t * in + i];
    check(tag + " backward dx", dx, dxe);
    check(tag + " backward dw", dw, dwe);
    if (!qkv) {  // dx = NULL: only dW
        std::vector<float> dw2 = dw0;
        emu_launch(linear_backward, bgrid, dim3(256), 0, (float*)nullptr, dw2.data(), (const float*)dy.data(),
                   (const float*)x.data(), (const float*)w.data(), (const float*)(relu ? y.data() : nullptr), in, out,
                   T, (const StepScalars*)&ss);
        check(tag + " backward dw (dx NULL)", dw2, dwe);
    }
}

static void test_attention(int T, int C, int H, int n, int warps) {
    std::string tag = "attention T=" + std::to_string(T) + " C=" + std::to_string(C) + " H=" + std::to_string(H) +
                      " n=" + std::to_string(n) + " warps=" + std::to_string(warps);
    StepScalars ss{0, n, 10, 0};
    int D = C / H, S = 3 * C;
    auto qkv = randv((size_t)T * S);
    std::vector<float> out(T * C, 7.0f), probs((size_t)H * T * T, 7.0f);
    size_t smem = (size_t)warps * (D + 2 * T + 64) * sizeof(float);
    emu_launch(attention_forward, dim3(CEIL_DIV(T, warps), H), dim3(32 * warps), smem, out.data(), probs.data(),
               (const float*)qkv.data(), C, H, T, (const StepScalars*)&ss);
    std::vector<double> oute(T * C, 7.0), pe((size_t)H * T * T, 7.0);
    double scale = 1.0 / std::sqrt((double)D);
    for (int t = 0; t < n; t++)
        for (int h = 0; h < H; h++) {
            double* p = &pe[((size_t)h * T + t) * T];
            double mx = -INFINITY;
            for (int u = 0; u <= t; u++) {
                double s = 0;
                for (int d = 0; d < D; d++) s += (double)qkv[t * S + h * D + d] * qkv[u * S + C + h * D + d];
                p[u] = s * scale;
                mx = std::max(mx, p[u]);
            }
            double tot = 0;
            for (int u = 0; u <= t; u++) tot += (p[u] = std::exp(p[u] - mx));
            for (int u = 0; u <= t; u++) p[u] /= tot;
            for (int u = t + 1; u < T; u++) p[u] = 0;
            for (int d = 0; d < D; d++) {
                double acc = 0;
                for (int u = 0; u <= t; u++) acc += p[u] * qkv[u * S + 2 * C + h * D + d];
                oute[t * C + h * D + d] = acc;
            }
        }
    check(tag + " forward out", out, oute);
    check(tag + " forward probs", probs, pe);
    // backward
    auto dout = randv((size_t)T * C);
    std::vector<float> dqkv(T * S, 7.0f);
    emu_launch(attention_backward, dim3(CEIL_DIV(T, warps), H, 2), dim3(32 * warps), smem, dqkv.data(),
               (const float*)dout.data(), (const float*)qkv.data(), (const float*)probs.data(),
               (const float*)out.data(), C, H, T, (const StepScalars*)&ss);
    std::vector<double> de(T * S, 7.0);
    for (int i = 0; i < n * S; i++) de[i] = 0;
    for (int t = 0; t < n; t++)
        for (int h = 0; h < H; h++) {
            const double* p = &pe[((size_t)h * T + t) * T];
            std::vector<double> dp(t + 1);
            double weighted = 0;
            for (int u = 0; u <= t; u++) {
                double s = 0;
                for (int d = 0; d < D; d++) s += (double)dout[t * C + h * D + d] * qkv[u * S + 2 * C + h * D + d];
                dp[u] = s;
                weighted += p[u] * s;
                for (int d = 0; d < D; d++) de[u * S + 2 * C + h * D + d] += p[u] * dout[t * C + h * D + d];
            }
            for (int u = 0; u <= t; u++) {
                double dl = p[u] * (dp[u] - weighted) * scale;
                for (int d = 0; d < D; d++) {
                    de[t * S + h * D + d] += dl * qkv[u * S + C + h * D + d];
                    de[u * S + C + h * D + d] += dl * qkv[t * S + h * D + d];
                }
            }
        }
    check(tag + " backward dqkv", dqkv, de);
}

static void test_crossentropy(int T, int V, int n, bool inplace, int threads) {
    std::string tag = "crossentropy T=" + std::to_string(T) + " V=" + std::to_string(V) + " n=" + std::to_string(n) +
                      (inplace ? " in-place" : "") + " threads=" + std::to_string(threads);
    StepScalars ss{5, n, 8, 0};
    std::vector<int> tok(T + 1);
    for (auto& t : tok) t = rng() % V;
    auto logits = randv((size_t)T * V, 3.0f);
    std::vector<float> lg = logits, dl(T * V, 7.0f), losses(8, 7.0f);
    float* dst = inplace ? lg.data() : dl.data();
    emu_launch(crossentropy_forward_backward, dim3(1), dim3(threads), 0, dst, losses.data(), (const float*)lg.data(),
               (const int*)tok.data(), V, T, (const StepScalars*)&ss);
    std::vector<double> de(T * V, 7.0);
    if (inplace) de = tod(logits);
    double sum = 0;
    for (int t = 0; t < n; t++) {
        double mx = -INFINITY, tot = 0;
        for (int j = 0; j < V; j++) mx = std::max(mx, (double)logits[t * V + j]);
        for (int j = 0; j < V; j++) tot += std::exp(logits[t * V + j] - mx);
        for (int j = 0; j < V; j++) de[t * V + j] = std::exp(logits[t * V + j] - mx) / tot / n;
        de[t * V + tok[t + 1]] -= 1.0 / n;
        sum += -std::log(std::exp(logits[t * V + tok[t + 1]] - mx) / tot);
    }
    std::vector<double> le(8, 7.0);
    le[5] = sum / n;
    check(tag + " dlogits", inplace ? lg : dl, de);
    check(tag + " losses", losses, le);
}

static void test_adam(int P, int step, int num_steps) {
    std::string tag = "adam P=" + std::to_string(P) + " step=" + std::to_string(step);
    StepScalars ss{step, 1, num_steps, 0};
    auto p = randv(P, 0.08f), g = randv(P), m = randv(P, 0.1f), v = randv(P, 0.1f);
    for (auto& x : v) x = x * x;
    std::vector<float> p2 = p, g2 = g, m2 = m, v2 = v;
    emu_launch(adam_update, dim3(CEIL_DIV(P, 256)), dim3(256), 0, p2.data(), g2.data(), m2.data(), v2.data(), P,
               0.01, 0.85, 0.99, 1e-8, (const StepScalars*)&ss);
    std::vector<double> pe = tod(p), me = tod(m), ve = tod(v), ge(P, 0.0);
    double lr = 0.01 * (1 - (double)step / num_steps), b1 = 0.85, b2 = 0.99;
    for (int i = 0; i < P; i++) {
        me[i] = b1 * me[i] + (1 - b1) * g[i];
        ve[i] = b2 * ve[i] + (1 - b2) * ((double)g[i] * g[i]);
        double mh = me[i] / (1 - std::pow(b1, step + 1)), vh = ve[i] / (1 - std::pow(b2, step + 1));
        pe[i] -= lr * mh / (std::sqrt(vh) + 1e-8);
    }
    check(tag + " params", p2, pe);
    check(tag + " m", m2, me);
    check(tag + " v", v2, ve);
    check(tag + " grads zeroed", g2, ge);
}


// ---------------- a whole training step, in the launch order of kernels/README.md ----------------
// Parameter layout as dev.microgpt.model.ParameterLayout: wte [V,C], wpe [T,C], lm_head [V,C], then per layer
// wq, wk, wv, wo [C,C], fc1 [4C,C], fc2 [C,4C].
struct Layout {
    int C, H, L, T, V, F;
    size_t wte, wpe, lm, size;
    std::vector<size_t> qkv, wo, fc1, fc2;
    Layout(int C_, int H_, int L_, int T_, int V_) : C(C_), H(H_), L(L_), T(T_), V(V_), F(4 * C_) {
        size_t at = 0;
        wte = at; at += (size_t)V * C;
        wpe = at; at += (size_t)T * C;
        lm = at; at += (size_t)V * C;
        for (int i = 0; i < L; i++) {
            qkv.push_back(at); at += 3 * (size_t)C * C;
            wo.push_back(at); at += (size_t)C * C;
            fc1.push_back(at); at += (size_t)F * C;
            fc2.push_back(at); at += (size_t)C * F;
        }
        size = at;
    }
};

// FastEngine.forwardBackward in float64: returns the loss, fills grads (zeroed first).
static double ref_step(const Layout& ly, const std::vector<double>& P, const std::vector<int>& tok, int n,
                       std::vector<double>& G) {
    int C = ly.C, H = ly.H, T = ly.T, V = ly.V, F = ly.F, D = C / H, S = 3 * C;
    double scale = 1.0 / std::sqrt((double)D);
    G.assign(ly.size, 0.0);
    auto mat = [&](const std::vector<double>& x, size_t w, int in, int out, std::vector<double>& y) {
        y.assign((size_t)T * out, 0.0);
        for (int t = 0; t < n; t++)
            for (int o = 0; o < out; o++) {
                double a = 0;
                for (int i = 0; i < in; i++) a += x[t * in + i] * P[w + (size_t)o * in + i];
                y[t * out + o] = a;
            }
    };
    auto matBack = [&](const std::vector<double>& x, const std::vector<double>& dy, size_t w, int in, int out,
                       std::vector<double>& dx) {
        dx.assign((size_t)T * in, 0.0);
        for (int t = 0; t < n; t++)
            for (int o = 0; o < out; o++) {
                double g = dy[t * out + o];
                for (int i = 0; i < in; i++) {
                    dx[t * in + i] += g * P[w + (size_t)o * in + i];
                    G[w + (size_t)o * in + i] += g * x[t * in + i];
                }
            }
    };
    std::vector<double> emb((size_t)T * C, 0.0), es(T);
    for (int t = 0; t < n; t++)
        for (int j = 0; j < C; j++) emb[t * C + j] = P[ly.wte + (size_t)tok[t] * C + j] + P[ly.wpe + (size_t)t * C + j];
    std::vector<std::vector<double>> stream(ly.L + 1, std::vector<double>((size_t)T * C, 0.0));
    ref_rms_fwd(emb, stream[0], es, n, C);
    struct Act { std::vector<double> an, as, qkv, probs, ao, mid, mn, ms, hid; };
    std::vector<Act> A(ly.L);
    for (int l = 0; l < ly.L; l++) {
        Act& a = A[l];
        a.an.assign((size_t)T * C, 0); a.as.assign(T, 0);
        ref_rms_fwd(stream[l], a.an, a.as, n, C);
        mat(a.an, ly.qkv[l], C, S, a.qkv);
        a.probs.assign((size_t)H * T * T, 0); a.ao.assign((size_t)T * C, 0);
        for (int t = 0; t < n; t++)
            for (int h = 0; h < H; h++) {
                double* p = &a.probs[((size_t)h * T + t) * T];
                double mx = -INFINITY;
                for (int u = 0; u <= t; u++) {
                    double d = 0;
                    for (int k = 0; k < D; k++) d += a.qkv[t * S + h * D + k] * a.qkv[u * S + C + h * D + k];
                    p[u] = d * scale; mx = std::max(mx, p[u]);
                }
                double tot = 0;
                for (int u = 0; u <= t; u++) tot += (p[u] = std::exp(p[u] - mx));
                for (int u = 0; u <= t; u++) p[u] /= tot;
                for (int k = 0; k < D; k++) {
                    double o = 0;
                    for (int u = 0; u <= t; u++) o += p[u] * a.qkv[u * S + 2 * C + h * D + k];
                    a.ao[t * C + h * D + k] = o;
                }
            }
        mat(a.ao, ly.wo[l], C, C, a.mid);
        for (int i = 0; i < n * C; i++) a.mid[i] += stream[l][i];
        a.mn.assign((size_t)T * C, 0); a.ms.assign(T, 0);
        ref_rms_fwd(a.mid, a.mn, a.ms, n, C);
        mat(a.mn, ly.fc1[l], C, F, a.hid);
        for (auto& x : a.hid) x = std::max(x, 0.0);
        mat(a.hid, ly.fc2[l], F, C, stream[l + 1]);
        for (int i = 0; i < n * C; i++) stream[l + 1][i] += a.mid[i];
    }
    std::vector<double> logits;
    mat(stream[ly.L], ly.lm, C, V, logits);
    double loss = 0;
    std::vector<double> dl((size_t)T * V, 0.0);
    for (int t = 0; t < n; t++) {
        double mx = -INFINITY, tot = 0;
        for (int j = 0; j < V; j++) mx = std::max(mx, logits[t * V + j]);
        for (int j = 0; j < V; j++) tot += std::exp(logits[t * V + j] - mx);
        for (int j = 0; j < V; j++) dl[t * V + j] = std::exp(logits[t * V + j] - mx) / tot / n;
        dl[t * V + tok[t + 1]] -= 1.0 / n;
        loss += -std::log(std::exp(logits[t * V + tok[t + 1]] - mx) / tot);
    }
    loss /= n;
    std::vector<double> dS, dH, dN, dAO;
    matBack(stream[ly.L], dl, ly.lm, C, V, dS);
    for (int l = ly.L - 1; l >= 0; l--) {
        Act& a = A[l];
        matBack(a.hid, dS, ly.fc2[l], F, C, dH);
        for (int i = 0; i < n * F; i++)
            if (a.hid[i] <= 0) dH[i] = 0;
        matBack(a.mn, dH, ly.fc1[l], C, F, dN);
        ref_rms_bwd(a.mid, a.ms, dN, dS, n, C);
        matBack(a.ao, dS, ly.wo[l], C, C, dAO);
        std::vector<double> dq((size_t)T * S, 0.0);
        for (int t = 0; t < n; t++)
            for (int h = 0; h < H; h++) {
                const double* p = &a.probs[((size_t)h * T + t) * T];
                std::vector<double> dp(t + 1);
                double wsum = 0;
                for (int u = 0; u <= t; u++) {
                    double s2 = 0;
                    for (int k = 0; k < D; k++) s2 += dAO[t * C + h * D + k] * a.qkv[u * S + 2 * C + h * D + k];
                    dp[u] = s2; wsum += p[u] * s2;
                    for (int k = 0; k < D; k++) dq[u * S + 2 * C + h * D + k] += p[u] * dAO[t * C + h * D + k];
                }
                for (int u = 0; u <= t; u++) {
                    double g = p[u] * (dp[u] - wsum) * scale;
                    for (int k = 0; k < D; k++) {
                        dq[t * S + h * D + k] += g * a.qkv[u * S + C + h * D + k];
                        dq[u * S + C + h * D + k] += g * a.qkv[t * S + h * D + k];
                    }
                }
            }
        matBack(a.an, dq, ly.qkv[l], C, S, dN);
        ref_rms_bwd(stream[l], a.as, dN, dS, n, C);
    }
    std::vector<double> dE((size_t)T * C, 0.0);
    ref_rms_bwd(emb, es, dS, dE, n, C);
    for (int t = 0; t < n; t++)
        for (int j = 0; j < C; j++) {
            G[ly.wte + (size_t)tok[t] * C + j] += dE[t * C + j];
            G[ly.wpe + (size_t)t * C + j] += dE[t * C + j];
        }
    return loss;
}

// ||got - want|| / ||want|| over [off, off + len) (a tensor) within tolerance.
static void check_norm(const std::string& name, const float* got, const double* want, size_t len, double tol) {
    double num = 0, den = 0;
    for (size_t i = 0; i < len; i++) {
        double d = got[i] - want[i];
        num += d * d;
        den += want[i] * want[i];
    }
    double rel = std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
    if (rel <= tol) {
        passed++;
    } else {
        failed++;
        std::printf("FAIL %s: relative error %.3g > %.3g\n", name.c_str(), rel, tol);
    }
}

// The eager launches of one step's forward and backward (kernels/README.md, "One training step"): losses[step]
// and the gradients accumulated into G.
static void eager_forward_backward(const Layout& ly, const float* P, float* G, float* losses, const std::vector<int>& tok,
                                   const StepScalars* sp) {
    int C = ly.C, H = ly.H, L = ly.L, T = ly.T, V = ly.V, F = ly.F, D = C / H, S = 3 * C;
    auto buf = [&](size_t k) { return std::vector<float>(k, 0.0f); };
    auto emb = buf(T * C), es = buf(T), logits = buf(T * V), dlogits = buf(T * V);
    std::vector<std::vector<float>> stream(L + 1, buf(T * C));
    struct Act { std::vector<float> an, as, qkv, probs, ao, mid, mn, ms, hid; };
    std::vector<Act> A(L);
    for (auto& a : A) a = Act{buf(T * C), buf(T), buf(T * S), buf((size_t)H * T * T), buf(T * C), buf(T * C), buf(T * C), buf(T), buf(T * F)};
    auto dS = buf(T * C), dN = buf(T * C), dH = buf(T * F), dAO = buf(T * C), dQ = buf(T * S);
    const int* tk = tok.data();
    dim3 rows(CEIL_DIV(T, 4)), rb(128), mb(256);
    dim3 agrid(CEIL_DIV(T, 4), H), agrid2(CEIL_DIV(T, 4), H, 2);
    size_t asmem = 4 * (D + 2 * T + 64) * sizeof(float);
    auto fgrid = [&](int out) { return dim3(CEIL_DIV(out, 32), CEIL_DIV(T, 32)); };
    auto bgrid = [&](int in, int out) { return dim3(CEIL_DIV(in, 32), CEIL_DIV(T, 32) + CEIL_DIV(out, 32)); };
    const float* NONE = nullptr;
    // forward
    emu_launch(embedding_rmsnorm_forward, rows, rb, 0, emb.data(), stream[0].data(), es.data(), tk,
               (const float*)P + ly.wte, (const float*)P + ly.wpe, C, T, sp);
    for (int l = 0; l < L; l++) {
        Act& a = A[l];
        emu_launch(rmsnorm_forward, rows, rb, 0, a.an.data(), a.as.data(), (const float*)stream[l].data(), C, T, sp);
        emu_launch(qkv_forward, fgrid(S), mb, 0, a.qkv.data(), (const float*)a.an.data(), (const float*)P + ly.qkv[l], C, T, sp);
        emu_launch(attention_forward, agrid, rb, asmem, a.ao.data(), a.probs.data(), (const float*)a.qkv.data(), C, H, T, sp);
        emu_launch(linear_forward, fgrid(C), mb, 0, a.mid.data(), (const float*)a.ao.data(), (const float*)P + ly.wo[l],
                   (const float*)stream[l].data(), C, C, 0, T, sp);
        emu_launch(rmsnorm_forward, rows, rb, 0, a.mn.data(), a.ms.data(), (const float*)a.mid.data(), C, T, sp);
        emu_launch(linear_forward, fgrid(F), mb, 0, a.hid.data(), (const float*)a.mn.data(), (const float*)P + ly.fc1[l],
                   NONE, C, F, 1, T, sp);
        emu_launch(linear_forward, fgrid(C), mb, 0, stream[l + 1].data(), (const float*)a.hid.data(),
                   (const float*)P + ly.fc2[l], (const float*)a.mid.data(), F, C, 0, T, sp);
    }
    emu_launch(linear_forward, fgrid(V), mb, 0, logits.data(), (const float*)stream[L].data(), (const float*)P + ly.lm,
               NONE, C, V, 0, T, sp);
    emu_launch(crossentropy_forward_backward, dim3(1), dim3(1024), 0, dlogits.data(), losses,
               (const float*)logits.data(), tk, V, T, sp);
    // backward
    emu_launch(linear_backward, bgrid(C, V), mb, 0, dS.data(), G + ly.lm, (const float*)dlogits.data(),
               (const float*)stream[L].data(), (const float*)P + ly.lm, NONE, C, V, T, sp);
    for (int l = L - 1; l >= 0; l--) {
        Act& a = A[l];
        emu_launch(linear_backward, bgrid(F, C), mb, 0, dH.data(), G + ly.fc2[l], (const float*)dS.data(),
                   (const float*)a.hid.data(), (const float*)P + ly.fc2[l], NONE, F, C, T, sp);
        emu_launch(linear_backward, bgrid(C, F), mb, 0, dN.data(), G + ly.fc1[l], (const float*)dH.data(),
                   (const float*)a.mn.data(), (const float*)P + ly.fc1[l], (const float*)a.hid.data(), C, F, T, sp);
        emu_launch(rmsnorm_backward, rows, rb, 0, dS.data(), (const float*)dN.data(), (const float*)a.mid.data(),
                   (const float*)a.ms.data(), C, 1, T, sp);
        emu_launch(linear_backward, bgrid(C, C), mb, 0, dAO.data(), G + ly.wo[l], (const float*)dS.data(),
                   (const float*)a.ao.data(), (const float*)P + ly.wo[l], NONE, C, C, T, sp);
        emu_launch(attention_backward, agrid2, rb, asmem, dQ.data(), (const float*)dAO.data(), (const float*)a.qkv.data(),
                   (const float*)a.probs.data(), (const float*)a.ao.data(), C, H, T, sp);
        emu_launch(qkv_backward, bgrid(C, S), mb, 0, dN.data(), G + ly.qkv[l], (const float*)dQ.data(),
                   (const float*)a.an.data(), (const float*)P + ly.qkv[l], C, T, sp);
        emu_launch(rmsnorm_backward, rows, rb, 0, dS.data(), (const float*)dN.data(), (const float*)stream[l].data(),
                   (const float*)a.as.data(), C, 1, T, sp);
    }
    emu_launch(rmsnorm_embedding_backward, rows, rb, 0, G + ly.wte, G + ly.wpe, (const float*)dS.data(),
               (const float*)emb.data(), (const float*)es.data(), tk, C, T, sp);
}

// Each parameter tensor's gradient G against the float64 reference (relative L2 error per tensor).
static void check_gradients(const std::string& tag, const Layout& ly, const float* G, const std::vector<double>& want) {
    int C = ly.C, T = ly.T, V = ly.V, F = ly.F;
    auto tensor = [&](const std::string& nm, size_t off, size_t len) {
        check_norm(tag + " grad " + nm, G + off, want.data() + off, len, 3e-5);
    };
    tensor("wte", ly.wte, (size_t)V * C);
    tensor("wpe", ly.wpe, (size_t)T * C);
    tensor("lm_head", ly.lm, (size_t)V * C);
    for (int l = 0; l < ly.L; l++) {
        std::string p = "layer" + std::to_string(l) + ".";
        tensor(p + "attn_wq|wk|wv", ly.qkv[l], 3 * (size_t)C * C);
        tensor(p + "attn_wo", ly.wo[l], (size_t)C * C);
        tensor(p + "mlp_fc1", ly.fc1[l], (size_t)F * C);
        tensor(p + "mlp_fc2", ly.fc2[l], (size_t)C * F);
    }
}

// n < 0: no single n (several steps)
static std::string shape_tag(const char* what, int C, int H, int L, int T, int V, int n) {
    return std::string(what) + " C=" + std::to_string(C) + " H=" + std::to_string(H) + " L=" + std::to_string(L) +
           " T=" + std::to_string(T) + " V=" + std::to_string(V) + (n < 0 ? "" : " n=" + std::to_string(n));
}

static const double LR = 0.01, BETA1 = 0.85, BETA2 = 0.99, EPS = 1e-8;  // microgpt.py's Adam
static const int LOSS_SLOTS = 10, STEP = 2;  // a step past the first, so Adam's bias corrections are not trivial

static void test_training_step(int C, int H, int L, int T, int V, int n) {
    std::string tag = shape_tag("step", C, H, L, T, V, n);
    Layout ly(C, H, L, T, V);
    auto params = randv(ly.size, 0.3f);
    std::vector<int> tok(T + 1);
    for (auto& t : tok) t = rng() % V;
    StepScalars ss{STEP, n, LOSS_SLOTS, 0};
    std::vector<float> grads(ly.size, 0.0f), m(ly.size, 0.0f), v(ly.size, 0.0f), losses(LOSS_SLOTS, 0.0f);
    eager_forward_backward(ly, params.data(), grads.data(), losses.data(), tok, &ss);

    std::vector<double> want;
    std::vector<double> lw(LOSS_SLOTS, 0.0);
    lw[STEP] = ref_step(ly, tod(params), tok, n, want);
    check(tag + " loss", losses, lw);
    check_gradients(tag, ly, grads.data(), want);
    // Adam on top clears the gradients.
    emu_launch(adam_update, dim3(CEIL_DIV((int)ly.size, 256)), dim3(256), 0, params.data(), grads.data(), m.data(),
               v.data(), (int)ly.size, LR, BETA1, BETA2, EPS, (const StepScalars*)&ss);
    size_t zero = 0;
    for (float g : grads) zero += g == 0.0f;
    std::vector<double> zw(1, (double)ly.size);
    float zf = (float)zero;
    check(tag + " grads zeroed by adam", &zf, zw.data(), 1);
}

// What a training step changes: weights, gradients, Adam's moments and the losses array.
struct TrainingState {
    std::vector<float> p, g, m, v, losses;
    TrainingState(const std::vector<float>& params, int loss_slots)
        : p(params), g(params.size(), 0.0f), m(params.size(), 0.0f), v(params.size(), 0.0f), losses(loss_slots, 0.0f) {}
};

// One eager step: the forward and backward launches, then adam_update.
static void eager_training_step(const Layout& ly, TrainingState& s, const std::vector<int>& tok, const StepScalars* ss) {
    eager_forward_backward(ly, s.p.data(), s.g.data(), s.losses.data(), tok, ss);
    emu_launch(adam_update, dim3(CEIL_DIV((int)ly.size, 256)), dim3(256), 0, s.p.data(), s.g.data(), s.m.data(),
               s.v.data(), (int)ly.size, LR, BETA1, BETA2, EPS, ss);
}

// Launches of train_step_fused on a grid of `blocks`, as FusedStep sets them up: the tensor offsets, the sizes the
// kernel reports, and the workspace in global memory (poisoned with NaN before every launch: rows t >= n must stay
// unread, and nothing may rely on an earlier launch's values) or in shared memory.
struct FusedLauncher {
    const Layout& ly;
    unsigned blocks;
    bool shared_workspace;
    std::vector<int> offsets;
    std::vector<float> workspace;
    size_t smem;

    FusedLauncher(const Layout& layout, unsigned blocks_, bool shared) : ly(layout), blocks(blocks_), shared_workspace(shared) {
        long long sizes[2] = {-1, -1};
        emu_launch(train_step_fused_sizes, dim3(1), dim3(32), 0, sizes, ly.C, ly.F, ly.H, ly.L, ly.T, ly.V);
        offsets = {(int)ly.wte, (int)ly.wpe, (int)ly.lm};
        for (int l = 0; l < ly.L; l++) {
            for (size_t off : {ly.qkv[l], ly.wo[l], ly.fc1[l], ly.fc2[l]}) offsets.push_back((int)off);
        }
        workspace.assign(shared ? 0 : sizes[0], NAN);
        smem = (sizes[1] + (shared ? sizes[0] : 0)) * sizeof(float);
    }

    void run(TrainingState& s, const int* tokens, int update, int steps, int slot_ints, const StepScalars* ss) {
        std::fill(workspace.begin(), workspace.end(), NAN);
        emu_launch_cooperative(train_step_fused, blocks, dim3(FUSED_THREADS), smem, s.p.data(), s.g.data(), s.m.data(),
                               s.v.data(), s.losses.data(), tokens, (const int*)offsets.data(),
                               shared_workspace ? nullptr : workspace.data(), ly.C, ly.F, ly.H, ly.L, ly.T, ly.V,
                               (int)ly.size, LR, BETA1, BETA2, EPS, update, steps, slot_ints, ss);
    }

    std::string tag() const {
        return " blocks=" + std::to_string(blocks) + (shared_workspace ? " shared" : " global");
    }
};

// The fused run's losses, moments and weights against the eager run's, and its gradients cleared.
static void check_same_training(const std::string& tag, const TrainingState& fused, const TrainingState& eager) {
    size_t P = eager.p.size();
    check(tag + " losses = eager", fused.losses, tod(eager.losses));
    check(tag + " adam_m = eager", fused.m.data(), tod(eager.m).data(), P, 1e-7, 1e-5);
    check(tag + " adam_v = eager", fused.v.data(), tod(eager.v).data(), P, 1e-9, 1e-5);
    check(tag + " params = eager", fused.p.data(), tod(eager.p).data(), P, 1e-6, 1e-5);
    std::vector<double> zeros(P, 0.0);
    check(tag + " grads zeroed", fused.g.data(), zeros.data(), P, 0.0, 0.0);
}

// The fused step (step.cu) against the eager launches followed by adam_update, from the same weights: with
// update = 0 its loss and gradients; with update = 1 its loss, moments and weights, and its gradients (recovered from
// the first moments, m = (1 - b1) g when m starts at 0) against the float64 reference. blocks = 1 runs with
// __syncthreads between stages, more blocks as a cooperative grid; shared_workspace puts the activations in shared
// memory (one block only).
static void test_fused_step(int C, int H, int L, int T, int V, int n, unsigned blocks, bool shared_workspace) {
    Layout ly(C, H, L, T, V);
    FusedLauncher fused(ly, blocks, shared_workspace);
    std::string tag = shape_tag("fused", C, H, L, T, V, n) + fused.tag();
    auto params = randv(ly.size, 0.3f);
    std::vector<int> tok(T + 1);
    for (auto& t : tok) t = rng() % V;
    StepScalars ss{STEP, n, LOSS_SLOTS, 0};

    TrainingState gradients_only(params, LOSS_SLOTS), eager_gradients(params, LOSS_SLOTS);
    eager_forward_backward(ly, eager_gradients.p.data(), eager_gradients.g.data(), eager_gradients.losses.data(), tok, &ss);
    fused.run(gradients_only, tok.data(), 0, 1, 0, &ss);
    check(tag + " update=0 loss = eager", gradients_only.losses, tod(eager_gradients.losses));
    check(tag + " update=0 grads = eager", gradients_only.g.data(), tod(eager_gradients.g).data(), ly.size, 1e-7, 1e-5);
    check(tag + " update=0 params unchanged", gradients_only.p.data(), tod(params).data(), ly.size, 0.0, 0.0);

    TrainingState eager(params, LOSS_SLOTS), trained(params, LOSS_SLOTS);
    eager_training_step(ly, eager, tok, &ss);
    fused.run(trained, tok.data(), 1, 1, 0, &ss);
    check_same_training(tag, trained, eager);
    std::vector<double> want;
    ref_step(ly, tod(params), tok, n, want);
    std::vector<float> g_from_m(ly.size);
    for (size_t i = 0; i < ly.size; i++) g_from_m[i] = (float)(trained.m[i] / (1.0 - BETA1));
    check_gradients(tag, ly, g_from_m.data(), want);
}

// K training steps in one launch of the fused kernel (steps = K, each step's tokens and scalars in one slot of a
// [K][T + 1 + 4] int array, as the engine stages them) against K eager steps each followed by adam_update.
// Each document's tokens are distinct (V > T): a token that repeats has its wte gradient summed by atomics in an
// order that differs between the two runs, and over several Adam steps such last-bit differences grow without
// bound wherever a gradient is near zero (Adam moves every weight by about lr whatever its gradient's size).
static void test_fused_steps(int C, int H, int L, int T, int V, int K, unsigned blocks, bool shared_workspace) {
    Layout ly(C, H, L, T, V);
    FusedLauncher fused(ly, blocks, shared_workspace);
    std::string tag = shape_tag("fused steps", C, H, L, T, V, -1) + " K=" + std::to_string(K) + fused.tag();
    const int slot = T + 1 + 4, num_steps = 50, first = 7;
    auto params = randv(ly.size, 0.3f);
    std::vector<int> slots((size_t)K * slot, -1);  // tokens past a step's n + 1: -1, never read
    if (V < T + 1) {
        std::printf("test_fused_steps needs V > T for documents of distinct tokens\n");
        std::abort();
    }
    std::vector<int> ids(V);
    for (int i = 0; i < V; i++) ids[i] = i;
    for (int k = 0; k < K; k++) {
        int n = 1 + (int)(rng() % T);
        std::shuffle(ids.begin(), ids.end(), rng);
        for (int i = 0; i <= n; i++) slots[(size_t)k * slot + i] = ids[i];
        int* sc = &slots[(size_t)k * slot + T + 1];
        sc[0] = first + k; sc[1] = n; sc[2] = num_steps; sc[3] = 0;
    }
    auto scalars_of = [&](int k) { return (const StepScalars*)&slots[(size_t)k * slot + T + 1]; };

    TrainingState eager(params, num_steps), trained(params, num_steps);
    for (int k = 0; k < K; k++) {
        std::vector<int> tok(slots.begin() + (long)k * slot, slots.begin() + (long)k * slot + T + 1);
        eager_training_step(ly, eager, tok, scalars_of(k));
    }
    fused.run(trained, slots.data(), 1, K, slot, scalars_of(0));
    check_same_training(tag, trained, eager);
}

int main() {
    test_embedding_rmsnorm(16, 16, 27, 16);
    test_embedding_rmsnorm(16, 16, 27, 5);
    test_embedding_rmsnorm(128, 128, 65, 128);
    test_embedding_rmsnorm(30, 48, 40, 29);
    for (bool q : {false, true}) {
        test_linear(16, 16, q ? 48 : 27, 16, false, false, q);
        test_linear(16, 16, q ? 48 : 64, 7, false, false, q);
        test_linear(128, 128, q ? 384 : 512, 128, false, false, q);
        test_linear(50, 40, q ? 120 : 70, 33, false, false, q);
    }
    test_linear(16, 16, 64, 11, true, false, false);   // fc1
    test_linear(128, 128, 512, 100, true, false, false);
    test_linear(16, 64, 16, 11, false, true, false);   // fc2 / wo with residual
    test_linear(128, 512, 128, 128, false, true, false);
    test_linear(40, 24, 24, 40, true, true, false);
    test_attention(16, 16, 4, 16, 4);   // microgpt: D = 4
    test_attention(16, 16, 4, 9, 4);
    test_attention(128, 128, 4, 128, 4);  // D = 32
    test_attention(128, 128, 1, 128, 4);  // D = 128
    test_attention(128, 128, 1, 77, 2);
    test_attention(40, 36, 3, 37, 4);   // D = 12: groups do not tile the warp
    test_attention(33, 96, 2, 33, 1);   // D = 48
    test_attention(70, 24, 8, 70, 8);   // D = 3, t past 64
    test_crossentropy(16, 27, 16, false, 1024);
    test_crossentropy(16, 27, 6, true, 1024);
    test_crossentropy(128, 300, 128, false, 256);
    test_crossentropy(40, 65, 40, true, 32);
    test_adam(1000, 0, 1000);
    test_adam(777, 499, 1000);
    test_adam(5000, 999, 1000);
    test_training_step(16, 4, 1, 16, 27, 16);  // microgpt.py's shape
    test_training_step(16, 4, 1, 16, 27, 6);
    test_training_step(24, 2, 2, 20, 11, 19);
    test_training_step(128, 4, 1, 128, 30, 100);
    test_fused_step(16, 4, 1, 16, 27, 16, 1, true);  // microgpt.py's shape, the workspace in shared memory
    test_fused_step(16, 4, 1, 16, 27, 6, 1, false);
    test_fused_step(16, 4, 1, 16, 27, 11, 3, false);
    test_fused_step(24, 2, 2, 20, 11, 19, 2, false);
    test_fused_step(24, 2, 2, 20, 11, 7, 1, true);
    test_fused_step(64, 4, 1, 64, 27, 64, 5, false);  // 64/64: more tiles than blocks
    test_fused_step(48, 3, 1, 40, 30, 33, 4, false);  // ragged tiles, D = 16
    test_fused_step(64, 2, 1, 40, 13, 37, 3, false);  // D = 32: attention's lanes over columns
    test_fused_steps(16, 4, 1, 16, 27, 5, 1, true);    // K steps per launch, one block on chip
    test_fused_steps(24, 2, 2, 20, 27, 4, 3, false);   // and on a cooperative grid
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
