namespace IJepa.Training;

/// <summary>
/// The three schedules of an I-JEPA run as functions of the step, so that a resumed run recomputes them
/// exactly. Steps are counted from 1 for the learning rate and weight decay (the paper's code advances those
/// schedulers before each step) and from 0 for the momentum (its generator yields the first value first).
/// </summary>
public static class TrainingSchedules
{
    /// <summary>Linear warm-up from the start rate to the peak, then a cosine from the peak to the final rate.</summary>
    /// <param name="options">The run.</param>
    /// <param name="step">The optimizer step, from 1.</param>
    public static double LearningRate(IJepaTrainingOptions options, long step)
    {
        ArgumentNullException.ThrowIfNull(options);
        long warmup = options.WarmupSteps;
        if (step < warmup)
        {
            double progress = step / (double)Math.Max(1, warmup);
            return options.StartLearningRate + (progress * (options.LearningRate - options.StartLearningRate));
        }
        double cosineProgress = (step - warmup) / (double)Math.Max(1, options.TotalSteps - warmup);
        double rate = options.FinalLearningRate + ((options.LearningRate - options.FinalLearningRate) * 0.5 * (1.0 + Math.Cos(Math.PI * cosineProgress)));
        return Math.Max(options.FinalLearningRate, rate);
    }

    /// <summary>Cosine from the start weight decay to the final one over the whole run (held at the final value past it).</summary>
    /// <param name="options">The run.</param>
    /// <param name="step">The optimizer step, from 1.</param>
    public static double WeightDecay(IJepaTrainingOptions options, long step)
    {
        ArgumentNullException.ThrowIfNull(options);
        double progress = step / (double)options.TotalSteps;
        double decay = options.FinalWeightDecay + ((options.WeightDecay - options.FinalWeightDecay) * 0.5 * (1.0 + Math.Cos(Math.PI * progress)));
        return options.FinalWeightDecay <= options.WeightDecay
            ? Math.Max(options.FinalWeightDecay, decay)
            : Math.Min(options.FinalWeightDecay, decay);
    }

    /// <summary>EMA momentum, linear from the start value at step 0 to the end value at the last step.</summary>
    /// <param name="options">The run.</param>
    /// <param name="step">Optimizer steps completed before this update, from 0.</param>
    public static double Momentum(IJepaTrainingOptions options, long step)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.EmaStart + (step * (options.EmaEnd - options.EmaStart) / options.TotalSteps);
    }
}
