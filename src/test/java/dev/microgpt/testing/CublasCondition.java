package dev.microgpt.testing;

import dev.microgpt.gpu.CublasSupport;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;

/** Disables {@link RequiresCublas} tests where {@link CublasSupport} cannot load cuBLAS, saying why. */
public final class CublasCondition implements ExecutionCondition {

    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
        CublasSupport.Status status = CublasSupport.status();
        return status.usable()
                ? ConditionEvaluationResult.enabled(status.version())
                : ConditionEvaluationResult.disabled(status.reason());
    }
}
