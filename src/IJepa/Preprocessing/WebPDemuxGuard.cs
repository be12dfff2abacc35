using System.Buffers.Binary;

namespace IJepa.Preprocessing;

/// <summary>
/// Judges a WebP file's RIFF and chunk structure as libwebp's <c>WebPDemux</c> does for Pillow 9.4, which opens
/// every WebP through <c>WebPAnimDecoderNew</c>: a complete-file demux that refuses a RIFF size past the end of the
/// file, chunk sizes past the RIFF end, a partial frame, a bitstream chunk after a VP8X header for an animation,
/// or frame sizes that disagree with the canvas ("could not create decoder object"). Skia demuxes with
/// <c>WebPDemuxPartial</c> and decodes what is there, so these checks come first.
/// </summary>
internal static class WebPDemuxGuard
{
    private const int ChunkHeaderSize = 8, RiffHeaderSize = 12, Vp8xChunkSize = 10, AnimChunkSize = 6;
    private const uint MaxChunkPayload = ~0u - ChunkHeaderSize - 1;
    private const int AlphaFlag = 0x10, AnimationFlag = 0x02, AllValidFlags = 0x3E;

    public static bool Handles(ReadOnlySpan<byte> head) =>
        head.Length >= 12 && head[..4].SequenceEqual("RIFF"u8) && head[8..12].SequenceEqual("WEBP"u8);

    /// <summary>Throws where Pillow's WebP plugin cannot open the file.</summary>
    public static void Check(ReadOnlySpan<byte> file, string source)
    {
        ReadOnlySpan<byte> first = file.Length >= 16 ? file[12..16] : [];
        bool simple = first.SequenceEqual("VP8 "u8) || first.SequenceEqual("VP8L"u8);
        if (!simple && !first.SequenceEqual("VP8X"u8))
        {
            throw new ImageDecodeException(source, "cannot identify image file: a RIFF WEBP file whose first chunk is not VP8, VP8L or VP8X");
        }
        var demux = new Demuxer(file);
        string? problem = demux.Parse(simple);
        if (problem is not null)
        {
            throw new ImageDecodeException(source, $"could not create decoder object (libwebp's demuxer: {problem})");
        }
        // WebPAnimDecoderNew first runs WebPGetFeatures over the whole file, whose VP8X parser wants exactly 10 bytes
        // where the demuxer takes any size of 10 or more; of what that check refuses, only this gets past
        // the demuxer. It runs second here so that a file both refuse is explained by the demuxer.
        if (!simple && BinaryPrimitives.ReadUInt32LittleEndian(file[16..]) is var vp8xSize and not Vp8xChunkSize)
        {
            throw new ImageDecodeException(source, $"could not create decoder object (WebPGetFeatures: a VP8X chunk of {vp8xSize} bytes, not {Vp8xChunkSize})");
        }
    }

    private sealed class Frame
    {
        public int Number;
        public long ImageOffset, ImageSize, AlphaOffset, AlphaSize;
        public int X, Y, Width, Height;
        public bool Complete;
    }

    /// <summary>demux.c's MemBuffer walk over a complete file (allow_partial = 0).</summary>
    private ref struct Demuxer
    {
        private readonly ReadOnlySpan<byte> _buffer;
        private long _start, _end, _riffEnd;
        private int _flags, _canvasWidth, _canvasHeight;
        private bool _extended, _headerParsed, _done;
        private readonly List<Frame> _frames;

        public Demuxer(ReadOnlySpan<byte> file)
        {
            _buffer = file;
            _end = file.Length;
            _frames = [];
        }

        private readonly long DataSize => _end - _start;

        private readonly bool SizeIsInvalid(long size) => size > _riffEnd - _start;

        private uint ReadLE32()
        {
            uint v = BinaryPrimitives.ReadUInt32LittleEndian(_buffer.Slice((int)_start, 4));
            _start += 4;
            return v;
        }

        /// <summary>Null when WebPDemux returns a demuxer, else why not.</summary>
        public string? Parse(bool simple)
        {
            if (_buffer.Length < RiffHeaderSize + ChunkHeaderSize)
            {
                return "the file ends inside the RIFF header";
            }
            uint riffSize = BinaryPrimitives.ReadUInt32LittleEndian(_buffer[4..]);
            if (riffSize < ChunkHeaderSize || riffSize > MaxChunkPayload)
            {
                return $"RIFF size {riffSize}";
            }
            _riffEnd = (long)riffSize + ChunkHeaderSize;
            if (_end > _riffEnd)
            {
                _end = _riffEnd; // bytes after the RIFF chunk are ignored
            }
            if (_end < _riffEnd)
            {
                return $"the RIFF size says {_riffEnd} bytes, the file has {_buffer.Length}";
            }
            _start = RiffHeaderSize;
            Status status = simple ? ParseSingleImage() : ParseVp8x();
            if (status == Status.Ok)
            {
                _done = true;
            }
            if (status == Status.NeedMoreData)
            {
                return "a chunk runs past the end of the data";
            }
            if (status == Status.Error)
            {
                return "a malformed chunk";
            }
            return (simple ? IsValidSimpleFormat() : IsValidExtendedFormat()) ? null : "the frames do not form a valid image";
        }

        private enum Status
        {
            Ok,
            Error,
            NeedMoreData,
        }

        private Status ParseSingleImage()
        {
            if (_frames.Count > 0 || SizeIsInvalid(ChunkHeaderSize))
            {
                return Status.Error;
            }
            if (DataSize < ChunkHeaderSize)
            {
                return Status.NeedMoreData;
            }
            var frame = new Frame();
            Status status = StoreFrame(1, 0, frame);
            if (status != Status.Error)
            {
                if ((_flags & AlphaFlag) == 0 && frame.AlphaSize > 0)
                {
                    frame.AlphaOffset = frame.AlphaSize = 0;
                }
                if (!_extended && frame.Width > 0 && frame.Height > 0)
                {
                    _headerParsed = true;
                    _canvasWidth = frame.Width;
                    _canvasHeight = frame.Height;
                }
                if (_frames.Count > 0 && !_frames[^1].Complete)
                {
                    status = Status.Error;
                }
                else
                {
                    _frames.Add(frame);
                }
            }
            return status;
        }

        private Status StoreFrame(int number, long minSize, Frame frame)
        {
            int alphaChunks = 0, imageChunks = 0;
            if (DataSize < ChunkHeaderSize || DataSize < minSize)
            {
                return Status.NeedMoreData;
            }
            Status status = Status.Ok;
            bool done = false;
            do
            {
                long chunkStart = _start;
                uint fourcc = ReadLE32();
                uint payloadSize = ReadLE32();
                if (payloadSize > MaxChunkPayload)
                {
                    return Status.Error;
                }
                long padded = payloadSize + (payloadSize & 1);
                long available = Math.Min(padded, DataSize);
                long chunkSize = ChunkHeaderSize + available;
                if (SizeIsInvalid(padded))
                {
                    return Status.Error;
                }
                if (padded > DataSize)
                {
                    status = Status.NeedMoreData;
                }
                if (fourcc == FourCC("ALPH") && alphaChunks == 0)
                {
                    alphaChunks++;
                    frame.AlphaOffset = chunkStart;
                    frame.AlphaSize = chunkSize;
                    frame.Number = number;
                    _start += available;
                }
                else if ((fourcc == FourCC("VP8L") || fourcc == FourCC("VP8 ")) && imageChunks == 0)
                {
                    if (fourcc == FourCC("VP8L") && alphaChunks > 0)
                    {
                        return Status.Error; // VP8L carries its own alpha
                    }
                    (bool ok, int width, int height) = Features(_buffer.Slice((int)chunkStart, (int)chunkSize), fourcc == FourCC("VP8L"));
                    if (!ok)
                    {
                        return Status.Error; // a complete file: WebPGetFeatures has all the data it will get
                    }
                    imageChunks++;
                    frame.ImageOffset = chunkStart;
                    frame.ImageSize = chunkSize;
                    frame.Width = width;
                    frame.Height = height;
                    frame.Number = number;
                    frame.Complete = status == Status.Ok;
                    _start += available;
                }
                else
                {
                    _start -= ChunkHeaderSize;
                    done = true;
                }
                if (_start == _riffEnd)
                {
                    done = true;
                }
                else if (DataSize < ChunkHeaderSize)
                {
                    status = Status.NeedMoreData;
                }
            }
            while (!done && status == Status.Ok);
            return status;
        }

        private Status ParseVp8x()
        {
            if (DataSize < ChunkHeaderSize)
            {
                return Status.NeedMoreData;
            }
            _extended = true;
            _start += 4;
            uint size = ReadLE32();
            if (size > MaxChunkPayload || size < Vp8xChunkSize)
            {
                return Status.Error;
            }
            long padded = size + (size & 1);
            if (SizeIsInvalid(padded))
            {
                return Status.Error;
            }
            if (DataSize < padded)
            {
                return Status.NeedMoreData;
            }
            int at = (int)_start;
            _flags = _buffer[at];
            _canvasWidth = 1 + (_buffer[at + 4] | (_buffer[at + 5] << 8) | (_buffer[at + 6] << 16));
            _canvasHeight = 1 + (_buffer[at + 7] | (_buffer[at + 8] << 8) | (_buffer[at + 9] << 16));
            if ((ulong)_canvasWidth * (ulong)_canvasHeight >= 1UL << 32)
            {
                return Status.Error;
            }
            _start += padded;
            _headerParsed = true;
            if (SizeIsInvalid(ChunkHeaderSize))
            {
                return Status.Error;
            }
            if (DataSize < ChunkHeaderSize)
            {
                return Status.NeedMoreData;
            }
            return ParseVp8xChunks();
        }

        private Status ParseVp8xChunks()
        {
            bool animation = (_flags & AnimationFlag) != 0;
            int animChunks = 0;
            Status status = Status.Ok;
            do
            {
                uint fourcc = ReadLE32();
                uint size = ReadLE32();
                if (size > MaxChunkPayload)
                {
                    return Status.Error;
                }
                long padded = size + (size & 1);
                if (SizeIsInvalid(padded))
                {
                    return Status.Error;
                }
                if (fourcc == FourCC("VP8X"))
                {
                    return Status.Error;
                }
                if (fourcc == FourCC("ALPH") || fourcc == FourCC("VP8 ") || fourcc == FourCC("VP8L"))
                {
                    if (animChunks > 0 || animation)
                    {
                        return Status.Error;
                    }
                    _start -= ChunkHeaderSize;
                    status = ParseSingleImage();
                }
                else if (fourcc == FourCC("ANIM"))
                {
                    if (padded < AnimChunkSize)
                    {
                        return Status.Error;
                    }
                    if (DataSize < padded)
                    {
                        status = Status.NeedMoreData;
                    }
                    else
                    {
                        animChunks++;
                        _start += padded;
                    }
                }
                else if (fourcc == FourCC("ANMF"))
                {
                    if (animChunks == 0)
                    {
                        return Status.Error;
                    }
                    status = ParseAnimationFrame(padded);
                }
                else if (padded <= DataSize)
                {
                    _start += padded;
                }
                else
                {
                    status = Status.NeedMoreData;
                }
                if (_start == _riffEnd)
                {
                    break;
                }
                if (DataSize < ChunkHeaderSize)
                {
                    status = Status.NeedMoreData;
                }
            }
            while (status == Status.Ok);
            return status;
        }

        private Status ParseAnimationFrame(long frameChunkSize)
        {
            const int AnmfChunkSize = 16;
            bool animation = (_flags & AnimationFlag) != 0;
            long startOffset = _start;
            if (SizeIsInvalid(frameChunkSize) || frameChunkSize < AnmfChunkSize || DataSize < frameChunkSize)
            {
                return frameChunkSize < AnmfChunkSize || SizeIsInvalid(frameChunkSize) ? Status.Error : Status.NeedMoreData;
            }
            int at = (int)_start;
            long width = 1 + (_buffer[at + 6] | (_buffer[at + 7] << 8) | (_buffer[at + 8] << 16));
            long height = 1 + (_buffer[at + 9] | (_buffer[at + 10] << 8) | (_buffer[at + 11] << 16));
            _start += AnmfChunkSize;
            if (width * height >= 1L << 32)
            {
                return Status.Error;
            }
            var frame = new Frame
            {
                X = 2 * (_buffer[at] | (_buffer[at + 1] << 8) | (_buffer[at + 2] << 16)),
                Y = 2 * (_buffer[at + 3] | (_buffer[at + 4] << 8) | (_buffer[at + 5] << 16)),
            };
            Status status = StoreFrame(_frames.Count + 1, frameChunkSize - AnmfChunkSize, frame);
            if (status != Status.Error && _start - startOffset > frameChunkSize)
            {
                status = Status.Error;
            }
            if (status != Status.Error && animation && frame.Number > 0)
            {
                if (_frames.Count > 0 && !_frames[^1].Complete)
                {
                    status = Status.Error;
                }
                else
                {
                    _frames.Add(frame);
                }
            }
            // No skip to the ANMF chunk's end: demux.c goes on from where StoreFrame stopped, so bytes left inside
            // the ANMF chunk are read as the next top-level chunks.
            return status;
        }

        private readonly bool IsValidSimpleFormat()
        {
            if (!_headerParsed && !_done)
            {
                return true;
            }
            return _canvasWidth > 0 && _canvasHeight > 0 && _frames.Count > 0 && _frames[0].Width > 0 && _frames[0].Height > 0;
        }

        private readonly bool IsValidExtendedFormat()
        {
            if (!_headerParsed && !_done)
            {
                return true;
            }
            if (_canvasWidth <= 0 || _canvasHeight <= 0 || (_done && _frames.Count == 0) || (_flags & ~AllValidFlags) != 0)
            {
                return false;
            }
            bool animation = (_flags & AnimationFlag) != 0;
            foreach (Frame f in _frames)
            {
                if (!animation && f.Number > 1)
                {
                    return false;
                }
                if (f.Complete)
                {
                    if ((f.AlphaSize == 0 && f.ImageSize == 0) || (f.AlphaSize > 0 && f.AlphaOffset > f.ImageOffset) || f.Width <= 0 || f.Height <= 0)
                    {
                        return false;
                    }
                }
                else if (_done)
                {
                    return false; // a partial frame in a complete file
                }
                bool outside = animation
                    ? f.X + (long)f.Width > _canvasWidth || f.Y + (long)f.Height > _canvasHeight
                    : f.X != 0 || f.Y != 0 || f.Width != _canvasWidth || f.Height != _canvasHeight;
                if (f.Width > 0 && f.Height > 0 && outside)
                {
                    return false; // CheckFrameBounds
                }
            }
            return true;
        }

        /// <summary>WebPGetFeatures on one VP8 or VP8L chunk (header included): whether it parses, and the size.</summary>
        private static (bool Ok, int Width, int Height) Features(ReadOnlySpan<byte> chunk, bool lossless)
        {
            ReadOnlySpan<byte> data = chunk[ChunkHeaderSize..];
            uint declared = BinaryPrimitives.ReadUInt32LittleEndian(chunk[4..]);
            if (lossless)
            {
                // VP8LGetInfo: the 0x2F signature, then 14-bit width - 1 and height - 1, an alpha bit, version 0.
                if (data.Length < 5 || data[0] != 0x2F || (data[4] >> 5) != 0)
                {
                    return (false, 0, 0);
                }
                uint bits = BinaryPrimitives.ReadUInt32LittleEndian(data[1..]);
                return (true, (int)(bits & 0x3FFF) + 1, (int)((bits >> 14) & 0x3FFF) + 1);
            }
            // VP8GetInfo: a visible key frame of a known profile, the start code, non-zero sizes.
            if (data.Length < 10 || data[3] != 0x9D || data[4] != 0x01 || data[5] != 0x2A)
            {
                return (false, 0, 0);
            }
            uint tag = (uint)(data[0] | (data[1] << 8) | (data[2] << 16));
            int width = BinaryPrimitives.ReadUInt16LittleEndian(data[6..]) & 0x3FFF;
            int height = BinaryPrimitives.ReadUInt16LittleEndian(data[8..]) & 0x3FFF;
            bool ok = (tag & 1) == 0 && ((tag >> 1) & 7) <= 3 && ((tag >> 4) & 1) != 0 && (tag >> 5) < declared && width > 0 && height > 0;
            return (ok, width, height);
        }

        private static uint FourCC(string tag) => (uint)(tag[0] | (tag[1] << 8) | (tag[2] << 16) | (tag[3] << 24));
    }
}
