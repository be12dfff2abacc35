using System.Runtime.InteropServices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace IJepa.Model;

/// <summary>
/// y = x Wᵀ + b, optionally followed by GELU, through oneDNN's linear primitive: the kernel PyTorch's
/// own CPU compiler (Inductor) emits for linear layers. On the CPU measured (README, benchmark) it
/// makes the float32 encoder 10–12 % faster than <c>nn.functional.linear</c>, which sends float32
/// to MKL, and it applies the bias and GELU while the output tile is still in cache.
/// TorchSharp has no binding for it, so it is reached through libtorch's exported AOTInductor C shim
/// (<c>aoti_torch_cpu__linear_pointwise</c>, a C ABI that AOTInductor-compiled models link against).
/// An AtenTensorHandle is an <c>at::Tensor*</c>, the same handle a TorchSharp tensor holds. Where the
/// shim is missing or fails, callers fall back to <c>nn.functional.linear</c>.
/// </summary>
internal static unsafe class OneDnnLinear
{
    private static readonly Shim Native = Shim.Resolve();
    private static readonly Lazy<bool> Float32Works = new(() => Probe(ScalarType.Float32));
    private static readonly Lazy<bool> BFloat16Works = new(() => Probe(ScalarType.BFloat16));
    private static volatile bool _failedFloat32;
    private static volatile bool _failedBFloat16;

    /// <summary>
    /// Whether oneDNN runs bfloat16 projections on this CPU. Its bfloat16 inner product needs AVX-512 (seen to
    /// fail on an AVX2-only Zen 3 with "could not create a primitive descriptor"); there bfloat16 weights stay
    /// plain and take <c>nn.functional.linear</c>.
    /// </summary>
    internal static bool BFloat16Supported => Native.LinearPointwise != null && BFloat16Works.Value;

    /// <summary>Off: every projection goes through <c>nn.functional.linear</c> (the benchmark compares both).</summary>
    internal static bool Enabled { get; set; } = true;

    /// <summary>
    /// Forgets earlier failures, so that the next call tries oneDNN again. For tests: a failure switches its dtype off
    /// for the whole process.
    /// </summary>
    internal static void ForgetFailures()
    {
        _failedFloat32 = false;
        _failedBFloat16 = false;
    }

    /// <summary>Whether <see cref="TryForward"/> can run on tensors of this kind.</summary>
    public static bool Applies(Tensor input) =>
        Enabled && Native.LinearPointwise != null
        && input.device_type == DeviceType.CPU
        && input.dtype switch
        {
            ScalarType.Float32 => !_failedFloat32 && Float32Works.Value,
            ScalarType.BFloat16 => !_failedBFloat16 && BFloat16Works.Value,
            _ => false,
        };

    /// <summary>
    /// The projection through oneDNN, or null where it does not apply or failed; the caller then
    /// computes it itself. <paramref name="weight"/> may be plain [out, in] or packed by <see cref="TryPack"/>.
    /// </summary>
    public static Tensor? TryForward(Tensor input, Tensor weight, Tensor? bias, GELU.Approximate? gelu)
    {
        if (!Applies(input) || !input.is_contiguous())
        {
            return null;
        }
        nint biasHandle = bias?.Handle ?? 0;
        nint result;
        int status;
        fixed (byte* none = "none\0"u8)
        fixed (byte* geluName = "gelu\0"u8)
        fixed (byte* tanh = "tanh\0"u8)
        {
            byte* algorithm = gelu == GELU.Approximate.tanh ? tanh : none;
            status = Native.LinearPointwise(
                input.Handle,
                weight.Handle,
                bias is null ? null : &biasHandle,
                gelu is null ? none : geluName,
                null,
                0,
                gelu is null ? null : &algorithm,
                &result);
        }
        if (status != 0)
        {
            // libtorch has already written the reason to stderr; don't try this dtype again on every call.
            if (input.dtype == ScalarType.BFloat16)
            {
                _failedBFloat16 = true;
            }
            else
            {
                _failedFloat32 = true;
            }
            return null;
        }
        return Tensor.UnsafeCreateTensor(result);
    }

    /// <summary>One tiny projection through the shim: whether oneDNN can run this dtype here at all.</summary>
    private static bool Probe(ScalarType dtype)
    {
        if (Native.LinearPointwise == null)
        {
            return false;
        }
        using var scope = NewDisposeScope();
        Tensor input = ones(1, 16, dtype: dtype);
        Tensor weight = ones(8, 16, dtype: dtype);
        nint result;
        int status;
        fixed (byte* none = "none\0"u8)
        {
            status = Native.LinearPointwise(input.Handle, weight.Handle, null, none, null, 0, null, &result);
        }
        if (status != 0)
        {
            return false;
        }
        Tensor.UnsafeCreateTensor(result).Dispose();
        return true;
    }

    /// <summary>
    /// <paramref name="weight"/> reordered once into the blocked layout oneDNN's bfloat16 kernels read
    /// (<c>mkldnn::_reorder_linear_weight</c>), or null where that is unavailable. Plain bfloat16
    /// weights are reordered on every call otherwise: 4–6 % of a ViT-H forward pass at batch 8.
    /// </summary>
    public static Tensor? TryPack(Tensor weight)
    {
        if (weight.dtype != ScalarType.BFloat16 || !Applies(weight) || Native.CallDispatcher == null || Native.NewTensorHandle == null)
        {
            return null;
        }
        // The dispatcher takes ownership of the tensor handles it is given: pass a new reference.
        nint reference;
        if (Native.NewTensorHandle(weight.Handle, &reference) != 0)
        {
            return null;
        }
        ulong* stack = stackalloc ulong[2];
        stack[0] = (ulong)reference;
        stack[1] = 0; // batch_size: None
        fixed (byte* op = "mkldnn::_reorder_linear_weight\0"u8)
        fixed (byte* overload = "\0"u8)
        {
            if (Native.CallDispatcher(op, overload, stack) != 0)
            {
                return null;
            }
        }
        return Tensor.UnsafeCreateTensor((nint)stack[0]);
    }

    private readonly struct Shim
    {
        public readonly delegate* unmanaged<nint, nint, nint*, byte*, double**, long, byte**, nint*, int> LinearPointwise;
        public readonly delegate* unmanaged<byte*, byte*, ulong*, int> CallDispatcher;
        public readonly delegate* unmanaged<nint, nint*, int> NewTensorHandle;

        private Shim(nint library)
        {
            LinearPointwise = (delegate* unmanaged<nint, nint, nint*, byte*, double**, long, byte**, nint*, int>)Export(library, "aoti_torch_cpu__linear_pointwise");
            CallDispatcher = (delegate* unmanaged<byte*, byte*, ulong*, int>)Export(library, "aoti_torch_call_dispatcher");
            NewTensorHandle = (delegate* unmanaged<nint, nint*, int>)Export(library, "aoti_torch_new_tensor_handle");
        }

        public static Shim Resolve()
        {
            // Initializing TorchSharp's CPU backend makes libtorch_cpu resident; looking it up by name
            // then finds that copy rather than searching the disk for another.
            // Any failure here only means no shim: the projections then take nn.functional.linear, and a
            // libtorch that cannot load at all has already reported that through TorchSharp.
            try
            {
                torch.InitializeDeviceType(DeviceType.CPU);
                string name = OperatingSystem.IsWindows() ? "torch_cpu.dll" : OperatingSystem.IsMacOS() ? "libtorch_cpu.dylib" : "libtorch_cpu.so";
                return NativeLibrary.TryLoad(name, out nint library) ? new Shim(library) : default;
            }
            catch (Exception e) when (e is DllNotFoundException or InvalidOperationException or NotSupportedException or BadImageFormatException)
            {
                return default;
            }
        }

        private static nint Export(nint library, string name) =>
            NativeLibrary.TryGetExport(library, name, out nint address) ? address : 0;
    }
}
