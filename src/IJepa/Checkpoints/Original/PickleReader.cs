using System.Buffers.Binary;
using System.Text;

namespace IJepa.Checkpoints.Original;

/// <summary>A global the pickle refers to (module and name), allowed by <see cref="PickleReader"/>.</summary>
internal sealed record PickleGlobal(string Module, string Name)
{
    public override string ToString() => $"{Module}.{Name}";
}

/// <summary>
/// A pickle virtual machine that builds only plain data — dicts, lists, tuples, strings, numbers — and
/// the few torch globals a saved state dict needs, through callbacks. Any other global (os.system,
/// builtins.eval, a class of the training code, …) is refused before anything is called, so
/// loading a checkpoint never runs code from it. Sizes are checked against the remaining input.
/// </summary>
internal sealed class PickleReader
{
    private const int MaxMemo = 10_000_000;
    private static readonly object Mark = new();

    private readonly byte[] _data;
    private readonly string _source;
    private readonly Func<PickleGlobal, object?[], object?> _reduce;
    private readonly Func<object?, object?> _persistentLoad;
    private readonly Func<PickleGlobal, bool> _allowed;
    private readonly List<object?> _stack = [];
    private readonly Dictionary<long, object?> _memo = [];
    private int _position;

    private PickleReader(byte[] data, string source, Func<PickleGlobal, bool> allowed, Func<PickleGlobal, object?[], object?> reduce, Func<object?, object?> persistentLoad)
    {
        _data = data;
        _source = source;
        _allowed = allowed;
        _reduce = reduce;
        _persistentLoad = persistentLoad;
    }

    /// <summary>Runs the pickle in <paramref name="data"/> and returns its object.</summary>
    /// <param name="data">The pickle bytes.</param>
    /// <param name="source">Names the file in errors.</param>
    /// <param name="allowed">Which globals may appear at all.</param>
    /// <param name="reduce">Calls an allowed global with its arguments (REDUCE).</param>
    /// <param name="persistentLoad">Resolves a persistent id (torch's storages).</param>
    /// <exception cref="IJepaCheckpointException">A forbidden global, an unsupported opcode, or malformed data.</exception>
    public static object? Load(byte[] data, string source, Func<PickleGlobal, bool> allowed, Func<PickleGlobal, object?[], object?> reduce, Func<object?, object?> persistentLoad)
        => new PickleReader(data, source, allowed, reduce, persistentLoad).Run();

    private object? Run()
    {
        while (true)
        {
            byte op = Byte();
            switch (op)
            {
                case 0x80: // PROTO
                    if (Byte() > 5)
                    {
                        throw Fail("unsupported pickle protocol");
                    }
                    break;
                case 0x95: // FRAME
                    Bytes(8);
                    break;
                case (byte)'.': // STOP
                    return Pop();
                case (byte)'(':
                    _stack.Add(Mark);
                    break;
                case (byte)'}':
                    _stack.Add(new Dictionary<object, object?>());
                    break;
                case (byte)']':
                    _stack.Add(new List<object?>());
                    break;
                case (byte)')':
                    _stack.Add(Array.Empty<object?>());
                    break;
                case (byte)'N':
                    _stack.Add(null);
                    break;
                case 0x88:
                    _stack.Add(true);
                    break;
                case 0x89:
                    _stack.Add(false);
                    break;
                case (byte)'K': // BININT1
                    _stack.Add((long)Byte());
                    break;
                case (byte)'M': // BININT2
                    _stack.Add((long)BinaryPrimitives.ReadUInt16LittleEndian(Bytes(2)));
                    break;
                case (byte)'J': // BININT
                    _stack.Add((long)BinaryPrimitives.ReadInt32LittleEndian(Bytes(4)));
                    break;
                case 0x8A: // LONG1
                    _stack.Add(Long(Byte()));
                    break;
                case (byte)'G': // BINFLOAT (big-endian)
                    _stack.Add(BinaryPrimitives.ReadDoubleBigEndian(Bytes(8)));
                    break;
                case (byte)'X': // BINUNICODE
                    _stack.Add(Text(BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4))));
                    break;
                case 0x8C: // SHORT_BINUNICODE
                    _stack.Add(Text(Byte()));
                    break;
                case (byte)'U': // SHORT_BINSTRING
                    _stack.Add(Encoding.Latin1.GetString(Bytes(Byte())));
                    break;
                case (byte)'T': // BINSTRING
                    _stack.Add(Encoding.Latin1.GetString(Bytes(Length(BinaryPrimitives.ReadInt32LittleEndian(Bytes(4))))));
                    break;
                case (byte)'C': // SHORT_BINBYTES
                    _stack.Add(Bytes(Byte()).ToArray());
                    break;
                case (byte)'B': // BINBYTES
                    _stack.Add(Bytes(Length(BinaryPrimitives.ReadInt32LittleEndian(Bytes(4)))).ToArray());
                    break;
                case (byte)'t': // TUPLE
                    _stack.Add(PopToMark().ToArray());
                    break;
                case 0x85:
                    _stack.Add(new[] { Pop() });
                    break;
                case 0x86:
                    {
                        object? b = Pop(), a = Pop();
                        _stack.Add(new[] { a, b });
                        break;
                    }
                case 0x87:
                    {
                        object? c = Pop(), b = Pop(), a = Pop();
                        _stack.Add(new[] { a, b, c });
                        break;
                    }
                case (byte)'l': // LIST
                    _stack.Add(PopToMark());
                    break;
                case (byte)'d': // DICT
                    {
                        var items = PopToMark();
                        var dict = new Dictionary<object, object?>();
                        SetItems(dict, items, "DICT");
                        _stack.Add(dict);
                        break;
                    }
                case (byte)'a': // APPEND
                    {
                        object? value = Pop();
                        List(Top()).Add(value);
                        break;
                    }
                case (byte)'e': // APPENDS
                    {
                        var items = PopToMark();
                        List(Top()).AddRange(items);
                        break;
                    }
                case (byte)'s': // SETITEM
                    {
                        object? value = Pop(), key = Pop();
                        SetItems(Dict(Top()), [key, value], "SETITEM");
                        break;
                    }
                case (byte)'u': // SETITEMS
                    {
                        var items = PopToMark();
                        SetItems(Dict(Top()), items, "SETITEMS");
                        break;
                    }
                case (byte)'q': // BINPUT
                    Memoize(Byte());
                    break;
                case (byte)'r': // LONG_BINPUT
                    Memoize(BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4)));
                    break;
                case 0x94: // MEMOIZE
                    Memoize(_memo.Count);
                    break;
                case (byte)'h': // BINGET
                    _stack.Add(Recall(Byte()));
                    break;
                case (byte)'j': // LONG_BINGET
                    _stack.Add(Recall(BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4))));
                    break;
                case (byte)'c': // GLOBAL "module\nname\n"
                    _stack.Add(Global(Line(), Line()));
                    break;
                case 0x93: // STACK_GLOBAL
                    {
                        object? name = Pop(), module = Pop();
                        if (module is not string m || name is not string n)
                        {
                            throw Fail("STACK_GLOBAL without a module and a name");
                        }
                        _stack.Add(Global(m, n));
                        break;
                    }
                case (byte)'R': // REDUCE
                    {
                        object? args = Pop(), callable = Pop();
                        if (callable is not PickleGlobal global || args is not object?[] tuple)
                        {
                            throw Fail("REDUCE of something that is not an allowed global");
                        }
                        _stack.Add(_reduce(global, tuple));
                        break;
                    }
                case (byte)'b': // BUILD: the state of objects we build is not needed (e.g. a state dict's _metadata)
                    Pop();
                    Top();
                    break;
                case (byte)'Q': // BINPERSID
                    _stack.Add(_persistentLoad(Pop()));
                    break;
                default:
                    throw Fail($"unsupported pickle opcode 0x{op:X2} at byte {_position - 1}");
            }
        }
    }

    private PickleGlobal Global(string module, string name)
    {
        var global = new PickleGlobal(module, name);
        if (!_allowed(global))
        {
            throw new IJepaCheckpointException(_source,
                $"refusing to unpickle: it references '{global}', which is neither a tensor nor a plain container; only torch tensors, storages and OrderedDict are allowed, so that loading never runs code from the file");
        }
        return global;
    }

    private void SetItems(Dictionary<object, object?> dict, List<object?> items, string opcode)
    {
        if (items.Count % 2 != 0)
        {
            // As CPython's unpickler: dropping the key without a value would give a different dict than torch.load.
            throw Fail($"odd number of items for {opcode}");
        }
        for (int i = 0; i + 1 < items.Count; i += 2)
        {
            dict[items[i] ?? "None"] = items[i + 1];
        }
    }

    private List<object?> List(object? o) => o as List<object?> ?? throw Fail("APPEND to something that is not a list");

    private Dictionary<object, object?> Dict(object? o) => o as Dictionary<object, object?> ?? throw Fail("SETITEM on something that is not a dict");

    private void Memoize(long key)
    {
        if (_memo.Count >= MaxMemo)
        {
            throw Fail("too many memoized objects");
        }
        _memo[key] = Top();
    }

    private object? Recall(long key) => _memo.TryGetValue(key, out object? value) ? value : throw Fail($"memo key {key} used before it was set");

    private object? Top() => _stack.Count > 0 && !ReferenceEquals(_stack[^1], Mark) ? _stack[^1] : throw Fail("stack underflow");

    private object? Pop()
    {
        object? value = Top();
        _stack.RemoveAt(_stack.Count - 1);
        return value;
    }

    private List<object?> PopToMark()
    {
        int mark = _stack.FindLastIndex(o => ReferenceEquals(o, Mark));
        if (mark < 0)
        {
            throw Fail("no MARK on the stack");
        }
        var items = _stack.GetRange(mark + 1, _stack.Count - mark - 1);
        _stack.RemoveRange(mark, _stack.Count - mark);
        return items;
    }

    private byte Byte() => _position < _data.Length ? _data[_position++] : throw Fail("the pickle ends early (truncated)");

    private ReadOnlySpan<byte> Bytes(long count)
    {
        if (count < 0 || count > _data.Length - _position)
        {
            throw Fail("the pickle ends early (truncated), or a length is corrupt");
        }
        var span = new ReadOnlySpan<byte>(_data, _position, (int)count);
        _position += (int)count;
        return span;
    }

    private int Length(int value) => value >= 0 ? value : throw Fail("negative length");

    private string Text(long length) => Encoding.UTF8.GetString(Bytes(length));

    private string Line()
    {
        int end = Array.IndexOf(_data, (byte)'\n', _position);
        if (end < 0 || end - _position > 256)
        {
            throw Fail("malformed GLOBAL");
        }
        string line = Encoding.ASCII.GetString(_data, _position, end - _position);
        _position = end + 1;
        return line;
    }

    private object Long(int bytes)
    {
        if (bytes > 8)
        {
            throw Fail("integer too large");
        }
        ReadOnlySpan<byte> raw = Bytes(bytes);
        long value = 0;
        for (int i = bytes - 1; i >= 0; i--)
        {
            value = (value << 8) | raw[i];
        }
        if (bytes is > 0 and < 8 && (raw[bytes - 1] & 0x80) != 0)
        {
            value -= 1L << (8 * bytes);
        }
        return value;
    }

    private IJepaCheckpointException Fail(string problem) => new(_source, $"malformed pickle: {problem}");
}
