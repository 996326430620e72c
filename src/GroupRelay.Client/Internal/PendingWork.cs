using System.Collections.Generic;
using System.Threading.Tasks;

namespace GroupRelay.Client.Internal;

/// <summary>
/// A send from the application until its ack: queued while disconnected, written, and written again with the same id
/// on every new connection until the server acknowledges it (PROTOCOL.md section 6, item 2). Guarded by the client's gate.
/// </summary>
internal sealed class PendingSend
{
    public PendingSend(string id, string group, byte[] frame)
    {
        Id = id;
        Group = group;
        Frame = frame;
        Node = new LinkedListNode<PendingSend>(this);
    }

    public string Id { get; }

    public string Group { get; }

    public byte[] Frame { get; }

    public LinkedListNode<PendingSend> Node { get; }

    public TaskCompletionSource<RelayAck> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The connection it was last written on; -1 when it waits to be written.</summary>
    public long WrittenOn { get; set; } = -1;

    /// <summary>When it was first written (<see cref="System.Environment.TickCount64"/>), or null before; a resend is safe only within the server's idempotency window of this.</summary>
    public long? FirstWrittenAt { get; set; }

    /// <summary>How often the server answered <c>unavailable</c> or <c>rate_limited</c> in a row.</summary>
    public int Refusals { get; set; }
}

/// <summary>What a request is for.</summary>
internal enum RequestKind
{
    History,
    Watch,
    Unwatch,
    Status,
    Members,

    /// <summary>The client's own <c>history</c> to catch a group up (not the application's).</summary>
    CatchUp,

    /// <summary>The client's own <c>watch</c> after a reconnect, to restore the watched set.</summary>
    RestoreWatch,
}

/// <summary>
/// A request with an id awaiting its answer. The application's requests are written again on a new connection when
/// the old one dropped before the answer; the client's own ones are dropped with their connection. Guarded by the gate.
/// </summary>
internal sealed class PendingRequest
{
    public PendingRequest(string id, RequestKind kind, byte[] frame)
    {
        Id = id;
        Kind = kind;
        Frame = frame;
    }

    public string Id { get; }

    public RequestKind Kind { get; }

    public byte[] Frame { get; }

    public bool IsInternal => Kind is RequestKind.CatchUp or RequestKind.RestoreWatch;

    public string? Group { get; init; }

    public long After { get; init; }

    public int Limit { get; init; }

    /// <summary>For the application's requests: completed with the answer frame, or for <c>history</c> with the page.</summary>
    public TaskCompletionSource<object>? Completion { get; init; }

    /// <summary>For the application's <c>history</c>: the group's message frames seen since it was written, by seq.</summary>
    public SortedDictionary<long, RelayMessage>? Collected { get; init; }
}

/// <summary>
/// What the client knows of one group's stream: the epoch and the highest seq handed to the application, and, while it
/// catches up, the frames it holds back (PROTOCOL.md section 6, items 1 and 3). Guarded by the gate.
/// </summary>
internal sealed class GroupStream
{
    public GroupStream(string group, string epoch, long lastSeq)
    {
        Group = group;
        Epoch = epoch;
        LastSeq = lastSeq;
    }

    public string Group { get; }

    public string Epoch { get; set; }

    /// <summary>The highest seq of <see cref="Epoch"/> handed to the application (or skipped as announced unrecovered).</summary>
    public long LastSeq { get; set; }

    /// <summary>Non-null while the group catches up through <c>history</c>.</summary>
    public CatchUp? CatchUp { get; set; }
}

/// <summary>A group catching up: its live and replayed frames held by seq until the history answers say what is complete.</summary>
internal sealed class CatchUp
{
    /// <summary>The outstanding <c>history</c> request's id.</summary>
    public string RequestId { get; set; } = string.Empty;

    /// <summary>The highest seq known to exist (the welcome's position or a frame seen); a reset before it is reached loses the rest.</summary>
    public long Target { get; set; }

    /// <summary>The frames held back, by seq, all above the stream's last seq.</summary>
    public SortedDictionary<long, RelayMessage> Held { get; } = new();

    /// <summary>
    /// Set when a reset arrived while a request of the old epoch was outstanding: until its answer, the group's frames
    /// may belong to either epoch, so they are dropped, and the new epoch is then read from <c>history</c>.
    /// </summary>
    public bool Discarding { get; set; }
}
