package dev.microgpt.testing;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A test (or class of tests) that needs a usable GPU and cuBLAS: {@link RequiresGpu} (tagged {@code gpu}, skipped with
 * the GPU probe's reason) and, where the GPU is usable but libcublas.so.12 cannot load, skipped with that reason.
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@RequiresGpu
@ExtendWith(CublasCondition.class)
public @interface RequiresCublas {
}
