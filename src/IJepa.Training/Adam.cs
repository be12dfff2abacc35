using IJepa.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace IJepa.Training;

/// <summary>
/// Adam (Kingma and Ba) as torch.optim.Adam computes it with its defaults and no weight decay, for the Train sample's
/// linear probe. Written out rather than TorchSharp's <c>optim.Adam</c>, whose step passes libtorch Scalars it does
/// not hold (<c>add_(grad, alpha: 1 - beta1)</c> and the like), which the collector can free while libtorch reads
/// them (<see cref="HeldScalars"/>); here every Scalar is held until its calls return.
/// </summary>
internal sealed class Adam : IDisposable
{
    private readonly Parameter[] _parameters;
    private readonly Tensor?[] _expAvg;
    private readonly Tensor?[] _expAvgSq;
    private readonly long[] _steps;
    private readonly double _learningRate;
    private readonly double _beta1;
    private readonly double _beta2;
    private readonly double _epsilon;

    public Adam(IEnumerable<Parameter> parameters, double learningRate, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
    {
        _parameters = [.. parameters];
        _expAvg = new Tensor?[_parameters.Length];
        _expAvgSq = new Tensor?[_parameters.Length];
        _steps = new long[_parameters.Length];
        _learningRate = learningRate;
        _beta1 = beta1;
        _beta2 = beta2;
        _epsilon = epsilon;
    }

    /// <summary>Zeroes every gradient (a parameter without one keeps none).</summary>
    public void ZeroGrad()
    {
        foreach (Parameter parameter in _parameters)
        {
            using Tensor? grad = parameter.grad;
            grad?.fill_(HeldScalars.Zero); // zero_() would return a second wrapper to dispose
        }
    }

    /// <summary>One update of every parameter that has a gradient; one without is skipped, and its step count with it.</summary>
    public void Step()
    {
        using var noGrad = no_grad();
        using Scalar beta1 = _beta1.ToScalar(), oneMinusBeta1 = (1 - _beta1).ToScalar(), beta2 = _beta2.ToScalar(),
            oneMinusBeta2 = (1 - _beta2).ToScalar(), epsilon = _epsilon.ToScalar();
        for (int i = 0; i < _parameters.Length; i++)
        {
            using var scope = NewDisposeScope();
            Tensor? grad = _parameters[i].grad;
            if (grad is null)
            {
                continue;
            }
            Tensor expAvg = _expAvg[i] ??= zeros_like(_parameters[i]).DetachFromDisposeScope();
            Tensor expAvgSq = _expAvgSq[i] ??= zeros_like(_parameters[i]).DetachFromDisposeScope();
            long step = ++_steps[i];
            double correction1 = 1 - Math.Pow(_beta1, step);
            double correction2 = 1 - Math.Pow(_beta2, step);
            // torch.optim.Adam's single-tensor step, operation for operation (the probe's numbers stay those of optim.Adam).
            expAvg.mul_(beta1).add_(grad, oneMinusBeta1);
            expAvgSq.mul_(beta2).addcmul_(grad, grad, oneMinusBeta2);
            using Scalar correction2Sqrt = Math.Sqrt(correction2).ToScalar(), stepSize = (-(_learningRate / correction1)).ToScalar();
            Tensor denominator = expAvgSq.sqrt().div_(correction2Sqrt).add_(epsilon, HeldScalars.One);
            _parameters[i].addcdiv_(expAvg, denominator, stepSize);
        }
    }

    public void Dispose()
    {
        foreach (Tensor? moment in _expAvg.Concat(_expAvgSq))
        {
            moment?.Dispose();
        }
    }
}
