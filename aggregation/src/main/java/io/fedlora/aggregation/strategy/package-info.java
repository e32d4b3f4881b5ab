/**
 * Federated LoRA aggregation rules behind one small interface ({@link io.fedlora.aggregation.strategy.AggregationStrategy}):
 * exact FedEx-LoRA and the FedIT and FFA baselines.
 *
 * <p>How FedEx is computed. With raw client weights {@code c_i} (examples or 1) and {@code w_i = c_i / C}:
 * {@code A' = sum w_i A_i}, {@code B' = sum w_i B_i} and the residual
 * {@code R = sum w_i B_i A_i - B'A' = sum w_i (B_i - B')(A_i - A')} as one GEMM
 * {@code U V = [B_1-B' ... B_n-B'] [w_1(A_1-A'); ...; w_n(A_n-A')]} with inner dimension {@code n*r}, folded into
 * {@code W0} by the same call with {@code beta = 1} in the layer's own layout (CONV1D via transpose flags). Because the
 * means are only known once the last update is in, the streaming accumulator keeps the raw factors (or, once they
 * would outgrow it, one dense {@code sum c_i B_i A_i}) and centres at {@code finish()}: exact, and numerically better
 * than subtracting {@code B'A'} from a large sum.
 *
 * <p>Metrics are measured against an independent path (raw per-client products, or the dense sum), not the
 * centred factors, so a mistake in the residual shows up in the exactness error.
 */
package io.fedlora.aggregation.strategy;
