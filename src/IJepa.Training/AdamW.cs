using IJepa.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace IJepa.Training;

/// <summary>
/// AdamW (Loshchilov and Hutter) as torch.optim.AdamW computes it, over parameter groups that each carry
/// their own weight decay. Written out here rather than taken from TorchSharp because a checkpoint must
/// hold the moments and step counts in the original <c>opt</c> layout, and resuming must put them back.
/// </summary>
internal sealed class AdamW : IDisposable
{
    private readonly List<ParameterGroup> _groups;
    private readonly double _beta1;
    private readonly double _beta2;
    private readonly double _epsilon;

    public AdamW(List<ParameterGroup> groups, double beta1, double beta2, double epsilon)
    {
        _groups = groups;
        _beta1 = beta1;
        _beta2 = beta2;
        _epsilon = epsilon;
    }

    public IReadOnlyList<ParameterGroup> Groups => _groups;

    public double Beta1 => _beta1;

    public double Beta2 => _beta2;

    public double Epsilon => _epsilon;

    /// <summary>One update of every parameter that has a gradient, with the learning rate and decay given.</summary>
    public void Step(double learningRate, double weightDecay)
    {
        using var noGrad = no_grad();
        // Every Scalar held until its calls return: a temporary can be finalized while libtorch reads it (HeldScalars).
        using Scalar beta2 = _beta2.ToScalar(), oneMinusBeta2 = (1.0 - _beta2).ToScalar(), epsilon = _epsilon.ToScalar();
        foreach (ParameterGroup group in _groups)
        {
            group.LearningRate = learningRate;
            group.WeightDecay = group.ExcludeFromDecay ? 0.0 : weightDecay;
            using Scalar decay = (1.0 - (learningRate * group.WeightDecay)).ToScalar();
            foreach (Slot slot in group.Slots)
            {
                using var scope = NewDisposeScope();
                Tensor? grad = slot.Parameter.grad;
                if (grad is null)
                {
                    continue;
                }
                if (slot.ExpAvg is null)
                {
                    slot.ExpAvg = zeros_like(slot.Parameter).DetachFromDisposeScope();
                    slot.ExpAvgSq = zeros_like(slot.Parameter).DetachFromDisposeScope();
                }
                slot.Steps++;
                // Decoupled decay first, then the moments and the bias-corrected update.
                slot.Parameter.mul_(decay);
                slot.ExpAvg.lerp_(grad, 1.0 - _beta1);
                slot.ExpAvgSq!.mul_(beta2).addcmul_(grad, grad, oneMinusBeta2);
                double correction1 = 1.0 - Math.Pow(_beta1, slot.Steps);
                double correction2Sqrt = Math.Sqrt(1.0 - Math.Pow(_beta2, slot.Steps));
                using Scalar correction2 = correction2Sqrt.ToScalar(), stepSize = (-learningRate / correction1).ToScalar();
                Tensor denominator = slot.ExpAvgSq.sqrt().div_(correction2).add_(epsilon, HeldScalars.One);
                slot.Parameter.addcdiv_(slot.ExpAvg, denominator, stepSize);
            }
        }
    }

    public void ZeroGrad()
    {
        foreach (Slot slot in _groups.SelectMany(g => g.Slots))
        {
            using Tensor? grad = slot.Parameter.grad;
            grad?.fill_(HeldScalars.Zero); // zero_() would return a second wrapper to dispose
        }
    }

    public void Dispose()
    {
        foreach (Slot slot in _groups.SelectMany(g => g.Slots))
        {
            slot.ExpAvg?.Dispose();
            slot.ExpAvgSq?.Dispose();
        }
    }

    /// <summary>One parameter group: its parameters in checkpoint order, whether it is exempt from decay, its last rates.</summary>
    internal sealed class ParameterGroup(List<Slot> slots, bool excludeFromDecay)
    {
        public List<Slot> Slots { get; } = slots;

        public bool ExcludeFromDecay { get; } = excludeFromDecay;

        public double LearningRate { get; set; }

        public double WeightDecay { get; set; }
    }

    /// <summary>A parameter and its optimizer state (none until its first update).</summary>
    internal sealed class Slot(string network, string name, Parameter parameter)
    {
        public string Network { get; } = network;

        public string Name { get; } = name;

        public Parameter Parameter { get; } = parameter;

        public long Steps { get; set; }

        public Tensor? ExpAvg { get; set; }

        public Tensor? ExpAvgSq { get; set; }
    }
}
