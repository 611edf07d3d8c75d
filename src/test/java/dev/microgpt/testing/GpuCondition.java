package dev.microgpt.testing;

import dev.microgpt.gpu.GpuSupport;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;

/** Disables {@link RequiresGpu} tests where {@link GpuSupport} finds no usable GPU, saying why. */
public final class GpuCondition implements ExecutionCondition {

    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
        GpuSupport.Status status = GpuSupport.status();
        return status.usable()
                ? ConditionEvaluationResult.enabled("GPU: " + status.device())
                : ConditionEvaluationResult.disabled("no usable GPU: " + status.reason());
    }
}
