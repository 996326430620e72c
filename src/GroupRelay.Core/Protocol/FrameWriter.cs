using System;
using System.Buffers;
using System.Collections.Generic;
using System.Text.Encodings.Web;
using System.Text.Json;
using GroupRelay.ScaleOut;

namespace GroupRelay.Internal;

/// <summary>
/// Builds every server-to-client frame as compact UTF-8 JSON. Each frame is written once into a thread-local
/// buffer and copied out as one exact-size array, which is then shared by every connection it goes to.
/// </summary>
/// <remarks>Thread-safe: the scratch buffer is per thread and no method awaits while it is in use.</remarks>
internal static class FrameWriter
{
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        // Frames go to WebSocket clients, never into HTML, so only what JSON requires is escaped.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
    };

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    private static Utf8JsonWriter Begin()
    {
        ArrayBufferWriter<byte> buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        Utf8JsonWriter writer = t_writer ??= new Utf8JsonWriter(buffer, WriterOptions);
        writer.Reset(buffer);
        writer.WriteStartObject();
        return writer;
    }

    private static byte[] End(Utf8JsonWriter writer)
    {
        writer.WriteEndObject();
        writer.Flush();
        byte[] frame = t_buffer!.WrittenSpan.ToArray();
        if (t_buffer.Capacity > 256 * 1024)
        {
            // Do not keep a huge scratch buffer alive on a thread after one big message.
            t_buffer = null;
            t_writer = null;
        }

        return frame;
    }

    public static byte[] Message(string group, string from, long seq, long timestamp, ReadOnlySpan<byte> body, bool bodyIsCompact)
    {
        Utf8JsonWriter w = Begin();
        w.WriteString("type"u8, "message"u8);
        w.WriteString("group"u8, group);
        w.WriteString("from"u8, from);
        w.WriteNumber("seq"u8, seq);
        w.WriteNumber("ts"u8, timestamp);
        w.WritePropertyName("body"u8);
        if (bodyIsCompact)
        {
            w.WriteRawValue(body, skipInputValidation: true);
        }
        else
        {
            byte[] rented = ArrayPool<byte>.Shared.Rent(body.Length);
            try
            {
                int length = JsonCompactor.Compact(body, rented);
                w.WriteRawValue(rented.AsSpan(0, length), skipInputValidation: true);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }

        return End(w);
    }

    /// <summary><c>welcome</c> (PROTOCOL.md section 2): the groups, and each group stream's position.</summary>
    public static byte[] Welcome(string connectionId, string user, IReadOnlyList<string> groups, IReadOnlyList<StreamPosition> positions)
    {
        Utf8JsonWriter w = Begin();
        w.WriteString("type"u8, "welcome"u8);
        w.WriteString("connectionId"u8, connectionId);
        w.WriteString("user"u8, user);
        WriteArray(w, "groups"u8, groups);
        w.WriteStartObject("positions"u8);
        for (int i = 0; i < groups.Count; i++)
        {
            w.WriteStartObject(groups[i]);
            WritePosition(w, positions[i]);
            w.WriteEndObject();
        }

        w.WriteEndObject();
        return End(w);
    }

    /// <summary><c>ack</c>: with the seq for a <c>send</c> (and <c>duplicate</c> for a repeated idempotency key), without for others.</summary>
    public static byte[] Ack(string id, long? seq, bool duplicate = false)
    {
        Utf8JsonWriter w = Begin();
        w.WriteString("type"u8, "ack"u8);
        w.WriteString("id"u8, id);
        if (seq is long s)
        {
            w.WriteNumber("seq"u8, s);
        }

        if (duplicate)
        {
            w.WriteBoolean("duplicate"u8, true);
        }

        return End(w);
    }

    public static byte[] Error(string? id, string code, string message)
    {
        Utf8JsonWriter w = Begin();
        w.WriteString("type"u8, "error"u8);
        if (id is not null)
        {
            w.WriteString("id"u8, id);
        }

        w.WriteString("code"u8, code);
        w.WriteString("message"u8, message);
        return End(w);
    }

    public static byte[] Pong(string? id)
    {
        Utf8JsonWriter w = Begin();
        w.WriteString("type"u8, "pong"u8);
        if (id is not null)
        {
            w.WriteString("id"u8, id);
        }

        return End(w);
    }

    public static byte[] PresenceResult(string? id, IReadOnlyList<(string User, string? Status)> online, IReadOnlyList<string> offline, IReadOnlyList<string> forbidden)
    {
        Utf8JsonWriter w = Begin();
        w.WriteString("type"u8, "presence"u8);
        if (id is not null)
        {
            w.WriteString("id"u8, id);
        }

        w.WriteStartArray("online"u8);
        foreach ((string user, string? status) in online)
        {
            w.WriteStartObject();
            w.WriteString("user"u8, user);
            WriteNullableString(w, "status"u8, status);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        WriteArray(w, "offline"u8, offline);
        WriteArray(w, "forbidden"u8, forbidden);
        return End(w);
    }

    public static byte[] PresenceEvent(string user, bool online, string? status)
    {
        Utf8JsonWriter w = Begin();
        w.WriteString("type"u8, "presence"u8);
        w.WriteString("user"u8, user);
        w.WriteBoolean("online"u8, online);
        WriteNullableString(w, "status"u8, status);
        return End(w);
    }

    public static byte[] Members(string? id, string group, IReadOnlyList<string> online)
    {
        Utf8JsonWriter w = Begin();
        w.WriteString("type"u8, "members"u8);
        if (id is not null)
        {
            w.WriteString("id"u8, id);
        }

        w.WriteString("group"u8, group);
        WriteArray(w, "online"u8, online);
        return End(w);
    }

    /// <summary>A <c>joined</c> or <c>left</c> event.</summary>
    public static byte[] MemberEvent(bool joined, string group, string user)
    {
        Utf8JsonWriter w = Begin();
        w.WriteString("type"u8, joined ? "joined"u8 : "left"u8);
        w.WriteString("group"u8, group);
        w.WriteString("user"u8, user);
        return End(w);
    }

    /// <summary>An <c>added</c> (with the group stream's position) or <c>removed</c> event for the user's own connections.</summary>
    public static byte[] MembershipEvent(bool added, string group, StreamPosition? position)
    {
        Utf8JsonWriter w = Begin();
        w.WriteString("type"u8, added ? "added"u8 : "removed"u8);
        w.WriteString("group"u8, group);
        if (added && position is StreamPosition p)
        {
            WritePosition(w, p);
        }

        return End(w);
    }

    /// <summary>The <c>history</c> result (PROTOCOL.md section 3): the stream's position and whether the replay is complete.</summary>
    public static byte[] History(string? id, string group, StreamPosition position, bool complete)
    {
        Utf8JsonWriter w = Begin();
        w.WriteString("type"u8, "history"u8);
        if (id is not null)
        {
            w.WriteString("id"u8, id);
        }

        w.WriteString("group"u8, group);
        WritePosition(w, position);
        w.WriteBoolean("complete"u8, complete);
        return End(w);
    }

    /// <summary>
    /// <c>reset</c> (PROTOCOL.md section 3, "Stream reset"): the group's stream restarted its numbering under a new epoch;
    /// sent to an open connection before any message of that epoch.
    /// </summary>
    public static byte[] Reset(string group, StreamPosition position)
    {
        Utf8JsonWriter w = Begin();
        w.WriteString("type"u8, "reset"u8);
        w.WriteString("group"u8, group);
        WritePosition(w, position);
        return End(w);
    }

    private static void WritePosition(Utf8JsonWriter w, StreamPosition position)
    {
        w.WriteString("epoch"u8, position.Epoch);
        w.WriteNumber("seq"u8, position.Seq);
    }

    private static void WriteNullableString(Utf8JsonWriter w, ReadOnlySpan<byte> name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }

    private static void WriteArray(Utf8JsonWriter w, ReadOnlySpan<byte> name, IReadOnlyList<string> values)
    {
        w.WriteStartArray(name);
        for (int i = 0; i < values.Count; i++)
        {
            w.WriteStringValue(values[i]);
        }

        w.WriteEndArray();
    }
}
