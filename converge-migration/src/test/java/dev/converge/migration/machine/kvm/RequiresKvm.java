package dev.converge.migration.machine.kvm;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;

/** Skips the test class visibly (JUnit reports the reason) where /dev/kvm cannot be opened. */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(RequiresKvm.Condition.class)
public @interface RequiresKvm {
    /** Enabled only where {@link KvmSystem#available()}. */
    final class Condition implements ExecutionCondition {
        @Override
        public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
            return KvmSystem.available()
                    ? ConditionEvaluationResult.enabled("/dev/kvm is available")
                    : ConditionEvaluationResult.disabled("skipped: " + KvmSystem.DEVICE + " is missing or not accessible (KVM tests need it)");
        }
    }
}
