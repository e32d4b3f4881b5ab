/**
 * The differentiable ops the causal-LM networks are composed of, as forward/backward pairs, built for speed on CPU:
 * every matrix product is one OpenBLAS GEMM straight on the arrays' native memory ({@link io.fedlora.agent.model.ops.Blas},
 * with offsets and leading dimensions so heads and row blocks are addressed in place), and everything else is a
 * fused Java loop over that memory ({@link io.fedlora.agent.model.ops.Dense}), split over rows or heads on a small
 * fixed pool ({@link io.fedlora.agent.model.ops.Parallel}). No ND4J op is dispatched on the hot path: its per-op
 * overhead was most of a small model's step.
 *
 * <p>Conventions: activations are dense c-order {@code [rows, features]} INDArrays with {@code rows = batch·seq};
 * every op works in FLOAT (training) and DOUBLE (gradient checks) through the same code. Outputs are written into
 * arrays the caller passes (from the step's memory when backward needs them, or from a {@link
 * io.fedlora.agent.model.ops.Scratch} role when they die within the layer). Backward takes what the forward returned
 * (statistics, {@code x·Aᵀ}, log-sum-exp) plus the forward's inputs, writes or accumulates dx as asked, and writes
 * parameter gradients only where the caller passes a destination. Reductions over rows run in row order, so results
 * do not depend on the pool's width.
 *
 * <p>Both families' networks ({@code Gpt2Network}, {@code LlamaNetwork}) are compositions of these ops; a family adds
 * none of its own. Adding an op: one final class with static {@code forward(...)} and
 * {@code backward(...)} (or a small record holding its shape, like {@link io.fedlora.agent.model.ops.CausalAttention}),
 * kernels over {@code Dense.of(array)} with a {@code par.forEach(rows, minRowsPerThread, r -> ...)} loop and products
 * through {@code Blas.gemm}; keep in the forward's result only what backward cannot cheaply recompute; then check its
 * backward against central differences in fp64 with the test sources' {@code FiniteDifferences}, on its own and
 * through the network that uses it ({@code GradientCheckTest}, {@code LlamaGradientCheckTest}).
 */
package io.fedlora.agent.model.ops;
