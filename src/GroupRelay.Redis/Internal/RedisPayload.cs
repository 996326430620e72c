using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Text;

namespace GroupRelay.Internal;

/// <summary>
/// The binary payloads on the channels: one kind byte, then length-prefixed (int32, little endian) UTF-8 fields,
/// and for messages the body as the rest. Ids are data here too: no separator inside them can confuse the reader.
/// </summary>
/// <remarks>
/// Thread-safety: stateless. A run-time membership change (<see cref="Added"/>, <see cref="Removed"/>) carries the user
/// and the group, then the asking node's id and a request id, which a node reading only the first two ignores.
/// </remarks>
internal static class RedisPayload
{
    /// <summary>A batch of messages of one group: <c>B&lt;first seq&gt;|</c>, then what <see cref="Batch"/> wrote.</summary>
    public const byte MessageBatch = (byte)'B';
    public const byte Joined = (byte)'J';
    public const byte Left = (byte)'L';
    public const byte Presence = (byte)'P';
    public const byte Added = (byte)'A';
    public const byte Removed = (byte)'R';

    /// <summary>A node applied a run-time membership change: the asking node's id, then the change's request id.</summary>
    public const byte Acknowledged = (byte)'K';

    /// <summary>
    /// One message of a batch (see <see cref="Batch"/>): origin node, publish id, connection to skip, sender, timestamp,
    /// compact flag, then the body as the rest. The publish script writes <c>B{first seq}|</c> before the batch.
    /// </summary>
    public static byte[] MessageTail(string originNode, long publishId, string? skipConnectionId, string from, long timestamp, bool compact, ReadOnlySpan<byte> body)
    {
        // Sized exactly and written in place: one allocation per message, where a growing writer took three.
        skipConnectionId ??= string.Empty;
        int originBytes = Encoding.UTF8.GetByteCount(originNode);
        int skipBytes = Encoding.UTF8.GetByteCount(skipConnectionId);
        int fromBytes = Encoding.UTF8.GetByteCount(from);
        byte[] tail = new byte[4 + originBytes + 8 + 4 + skipBytes + 4 + fromBytes + 8 + 1 + body.Length];
        Span<byte> span = tail;
        WriteString(ref span, originNode, originBytes);
        WriteLong(ref span, publishId);
        WriteString(ref span, skipConnectionId, skipBytes);
        WriteString(ref span, from, fromBytes);
        WriteLong(ref span, timestamp);
        span[0] = compact ? (byte)1 : (byte)0;
        body.CopyTo(span[1..]);
        return tail;
    }

    /// <summary>
    /// The part of a batch the client writes: the number of messages, then each message's tail (see
    /// <see cref="MessageTail"/>) with its length in front. The publish script puts <c>B&lt;first seq&gt;|</c> before it.
    /// </summary>
    public static byte[] Batch(IReadOnlyList<byte[]> tails)
    {
        int size = 4;
        foreach (byte[] tail in tails)
        {
            size += 4 + tail.Length;
        }

        byte[] batch = new byte[size];
        BinaryPrimitives.WriteInt32LittleEndian(batch, tails.Count);
        int offset = 4;
        foreach (byte[] tail in tails)
        {
            BinaryPrimitives.WriteInt32LittleEndian(batch.AsSpan(offset), tail.Length);
            tail.CopyTo(batch.AsSpan(offset + 4));
            offset += 4 + tail.Length;
        }

        return batch;
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
    public static ReadOnlySpan<byte> ReadBytes(ref ReadOnlySpan<byte> span)
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
