package io.fedlora.aggregation.strategy;

/**
 * What distinguishes the three strategies inside the shared streaming machinery.
 *
 * @param name          strategy name
 * @param foldResidual  FedEx: publish the residual for folding into the base
 * @param frozenA       FFA: A must be the same for every client and is not averaged
 */
record StrategyRule(String name, boolean foldResidual, boolean frozenA) {
}
