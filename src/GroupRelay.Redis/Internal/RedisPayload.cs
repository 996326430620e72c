using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace GroupRelay.Internal;

/// <summary>
/// The binary payloads on the channels: one kind byte, then length-prefixed (int32, little endian) UTF-8 fields,
/// and for messages the body as the rest. Ids are data here too: no separator inside them can confuse the reader.
/// </summary>
/// <remarks>
/// Thread-safety: stateless. A run-time membership change (<see cref="Added"/>, <see cref="Removed"/>) carries the user
/// and the group, then the asking node's id and a request id, which a node reading only the first two ignores, and an
/// addition then the group's position, appended by the change script (see <see cref="ReadPosition"/>).
/// </remarks>
internal static class RedisPayload
{
    /// <summary>A batch of messages of one group: <c>B{epoch}|{first seq}|{count}|</c>, then the framed tails (see <see cref="ReadBatchHeader"/>).</summary>
    public const byte MessageBatch = (byte)'B';
    public const byte Joined = (byte)'J';
    public const byte Left = (byte)'L';
    public const byte Presence = (byte)'P';
    public const byte Added = (byte)'A';
    public const byte Removed = (byte)'R';

    /// <summary>A node applied a run-time membership change: the asking node's id, then the change's request id.</summary>
    public const byte Acknowledged = (byte)'K';

    /// <summary>
    /// One message of a batch: origin node, publish id, connection to skip, sender, timestamp, compact flag, then the
    /// body as the rest.
    /// </summary>
    public static byte[] MessageTail(string originNode, long publishId, string? skipConnectionId, string from, long timestamp, bool compact, ReadOnlySpan<byte> body)
        => WriteMessageTail(originNode, publishId, skipConnectionId, from, timestamp, compact, body, framed: false);

    /// <summary>
    /// <see cref="MessageTail"/> with its length in front, as a batch holds it: the publish script concatenates the framed
    /// tails of the messages it publishes after <c>B{epoch}|{first seq}|{count}|</c> (see <see cref="ReadBatchHeader"/>).
    /// </summary>
    public static byte[] FramedMessageTail(string originNode, long publishId, string? skipConnectionId, string from, long timestamp, bool compact, ReadOnlySpan<byte> body)
        => WriteMessageTail(originNode, publishId, skipConnectionId, from, timestamp, compact, body, framed: true);

    /// <summary>
    /// Reads one message tail (see <see cref="MessageTail"/>, without its length): the channel's batches and the group's
    /// Redis Stream entries hold the same bytes, so a live delivery and a <c>history</c> replay read the same fields.
    /// </summary>
    /// <returns>The body.</returns>
    public static ReadOnlySpan<byte> ReadMessageTail(ReadOnlySpan<byte> span, out ReadOnlySpan<byte> origin, out long publishId, out ReadOnlySpan<byte> skip, out string from, out long timestamp, out bool compact)
    {
        origin = ReadBytes(ref span);
        publishId = ReadLong(ref span);
        skip = ReadBytes(ref span);
        from = ReadString(ref span)!;
        timestamp = ReadLong(ref span);
        compact = span[0] == 1;
        return span[1..];
    }

    /// <summary>
    /// Reads a batch's header, <c>B{epoch}|{first seq}|{count}|</c> (written by the publish script, ASCII), and returns
    /// the framed tails after it (each read with <see cref="ReadBytes"/>).
    /// </summary>
    public static ReadOnlySpan<byte> ReadBatchHeader(ReadOnlySpan<byte> payload, out string epoch, out long firstSeq, out int count)
    {
        ReadOnlySpan<byte> rest = payload[1..];
        epoch = Encoding.ASCII.GetString(NextField(ref rest));
        firstSeq = long.Parse(NextField(ref rest), NumberStyles.None, CultureInfo.InvariantCulture);
        count = int.Parse(NextField(ref rest), NumberStyles.None, CultureInfo.InvariantCulture);
        return rest;
    }

    /// <summary>
    /// The position the change script appends to a run-time addition (<c>{epoch}|{seq}</c>, ASCII) after the command's
    /// fields; null when there is none (a removal).
    /// </summary>
    public static GroupRelay.ScaleOut.StreamPosition? ReadPosition(ReadOnlySpan<byte> rest)
    {
        if (rest.IsEmpty)
        {
            return null;
        }

        string epoch = Encoding.ASCII.GetString(NextField(ref rest));
        return new GroupRelay.ScaleOut.StreamPosition(epoch, long.Parse(rest, NumberStyles.None, CultureInfo.InvariantCulture));
    }

    private static ReadOnlySpan<byte> NextField(ref ReadOnlySpan<byte> span)
    {
        int bar = span.IndexOf((byte)'|');
        ReadOnlySpan<byte> field = span[..bar];
        span = span[(bar + 1)..];
        return field;
    }

    private static byte[] WriteMessageTail(string originNode, long publishId, string? skipConnectionId, string from, long timestamp, bool compact, ReadOnlySpan<byte> body, bool framed)
    {
        // Sized exactly and written in place: one allocation per message, where a growing writer took three.
        skipConnectionId ??= string.Empty;
        int originBytes = Encoding.UTF8.GetByteCount(originNode);
        int skipBytes = Encoding.UTF8.GetByteCount(skipConnectionId);
        int fromBytes = Encoding.UTF8.GetByteCount(from);
        int length = 4 + originBytes + 8 + 4 + skipBytes + 4 + fromBytes + 8 + 1 + body.Length;
        byte[] tail = new byte[(framed ? 4 : 0) + length];
        Span<byte> span = tail;
        if (framed)
        {
            BinaryPrimitives.WriteInt32LittleEndian(span, length);
            span = span[4..];
        }

        WriteString(ref span, originNode, originBytes);
        WriteLong(ref span, publishId);
        WriteString(ref span, skipConnectionId, skipBytes);
        WriteString(ref span, from, fromBytes);
        WriteLong(ref span, timestamp);
        span[0] = compact ? (byte)1 : (byte)0;
        body.CopyTo(span[1..]);
        return tail;
    }

    public static int ReadInt(ref ReadOnlySpan<byte> span)
    {
        int value = BinaryPrimitives.ReadInt32LittleEndian(span);
        span = span[4..];
        return value;
    }

    public static byte[] Strings(byte kind, params string?[] fields)
    {
        var writer = new ArrayBufferWriter<byte>(64);
        writer.GetSpan(1)[0] = kind;
        writer.Advance(1);
        foreach (string? field in fields)
        {
            if (field is null)
            {
                WriteInt(writer, -1);
            }
            else
            {
                WriteString(writer, field);
            }
        }

        return writer.WrittenSpan.ToArray();
    }

    public static string? ReadString(ref ReadOnlySpan<byte> span)
    {
        int length = BinaryPrimitives.ReadInt32LittleEndian(span);
        span = span[4..];
        if (length < 0)
        {
            return null;
        }

        string value = Encoding.UTF8.GetString(span[..length]);
        span = span[length..];
        return value;
    }

    /// <summary>
    /// The next length-prefixed field, without copying it: a string's UTF-8 bytes (a null string reads as empty), or the
    /// next message tail of a batch (after its count).
    /// </summary>
    public static ReadOnlySpan<byte> ReadBytes(scoped ref ReadOnlySpan<byte> span)
    {
        int length = Math.Max(0, BinaryPrimitives.ReadInt32LittleEndian(span));
        ReadOnlySpan<byte> value = span.Slice(4, length);
        span = span[(4 + length)..];
        return value;
    }

    public static long ReadLong(ref ReadOnlySpan<byte> span)
    {
        long value = BinaryPrimitives.ReadInt64LittleEndian(span);
        span = span[8..];
        return value;
    }

    private static void WriteString(ArrayBufferWriter<byte> writer, string value)
    {
        int count = Encoding.UTF8.GetByteCount(value);
        WriteInt(writer, count);
        Encoding.UTF8.GetBytes(value, writer.GetSpan(count));
        writer.Advance(count);
    }

    private static void WriteString(ref Span<byte> span, string value, int byteCount)
    {
        BinaryPrimitives.WriteInt32LittleEndian(span, byteCount);
        Encoding.UTF8.GetBytes(value, span.Slice(4, byteCount));
        span = span[(4 + byteCount)..];
    }

    private static void WriteLong(ref Span<byte> span, long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(span, value);
        span = span[8..];
    }

    private static void WriteInt(ArrayBufferWriter<byte> writer, int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(writer.GetSpan(4), value);
        writer.Advance(4);
    }
}
