using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using GroupRelay.Client.Internal;

namespace GroupRelay.Client;

// The frames the server sends, and each group's stream: in seq order, exactly once, caught up through history.
public sealed partial class GroupRelayClient
{
    private void HandleFrame(RelayConnection connection, ServerFrame frame, List<object> outputs)
    {
        switch (frame.Type)
        {
            case "message":
                OnMessage(connection, frame, outputs);
                break;
            case "ack":
                OnAck(frame);
                break;
            case "error":
                OnError(connection, frame);
                break;
            case "history":
                OnHistory(connection, frame, outputs);
                break;
            case "presence":
                OnPresence(frame, outputs);
                break;
            case "members":
                if (frame.Id is not null && _requests.Remove(frame.Id, out PendingRequest? members))
                {
                    members.Completion?.TrySetResult(frame);
                }

                break;
            case "joined" or "left" when frame.Group is not null && frame.User is not null:
                var member = new RelayMemberEventArgs(frame.Group, frame.User);
                outputs.Add(frame.Type == "joined"
                    ? () => Raise(MemberJoined, member, nameof(MemberJoined))
                    : () => Raise(MemberLeft, member, nameof(MemberLeft)));
                break;
            case "added" when frame.Group is not null:
                OnAdded(connection, frame.Group, frame.Epoch ?? string.Empty, frame.Seq ?? 0, outputs);
                break;
            case "removed" when frame.Group is not null:
                _streams.Remove(frame.Group);
                _groups = _groups.Where(g => g != frame.Group).ToList().AsReadOnly();
                var removed = new RelayGroupEventArgs(frame.Group, null);
                outputs.Add(() => Raise(GroupRemoved, removed, nameof(GroupRemoved)));
                break;
            case "reset" when frame.Group is not null && frame.Epoch is not null:
                OnReset(frame.Group, frame.Epoch, frame.Seq ?? 0, outputs);
                break;
            default:
                // pong, and anything a newer server adds (PROTOCOL.md section 7).
                break;
        }
    }

    private void OnMessage(RelayConnection connection, ServerFrame frame, List<object> outputs)
    {
        if (frame.Group is not { } group || frame.Seq is not long seq || !_streams.TryGetValue(group, out GroupStream? stream))
        {
            return;
        }

        var message = new RelayMessage(group, frame.From ?? string.Empty, stream.Epoch, seq, DateTimeOffset.FromUnixTimeMilliseconds(frame.Ts ?? 0), frame.Body);

        // The application's own history requests of this group collect it (replayed and live frames look alike).
        if (_requests.Count > 0)
        {
            foreach (PendingRequest request in _requests.Values)
            {
                if (request.Collected is { } collected && request.Group == group && seq > request.After)
                {
                    collected.TryAdd(seq, message);
                }
            }
        }

        if (stream.CatchUp is { } catchUp)
        {
            if (!catchUp.Discarding && seq > stream.LastSeq)
            {
                catchUp.Held.TryAdd(seq, message);
                catchUp.Target = Math.Max(catchUp.Target, seq);
            }

            return;
        }

        if (seq <= stream.LastSeq)
        {
            return;
        }

        if (seq == stream.LastSeq + 1)
        {
            stream.LastSeq = seq;
            outputs.Add(message);
            return;
        }

        // A gap in the live frames: hold them and ask for what is missing.
        StartCatchUp(connection, stream, seq);
        stream.CatchUp!.Held.TryAdd(seq, message);
    }

    private void StartCatchUp(RelayConnection connection, GroupStream stream, long target)
    {
        var catchUp = new CatchUp { Target = target };
        stream.CatchUp = catchUp;
        RequestCatchUpPage(connection, stream, catchUp);
    }

    private void RequestCatchUpPage(RelayConnection connection, GroupStream stream, CatchUp catchUp)
    {
        string id = NextRequestId();
        catchUp.RequestId = id;
        var request = new PendingRequest(id, RequestKind.CatchUp, Serialize(new ClientRequest
        {
            Type = "history",
            Id = id,
            Group = stream.Group,
            After = stream.LastSeq,
            Epoch = stream.Epoch.Length == 0 ? null : stream.Epoch,
            Limit = _options.HistoryPageSize,
        }))
        { Group = stream.Group, After = stream.LastSeq };
        _requests[id] = request;
        ClientLog.CatchingUp(_logger, stream.Group, stream.LastSeq, stream.Epoch);
        connection.Enqueue(request.Frame);
    }

    private void OnHistory(RelayConnection connection, ServerFrame frame, List<object> outputs)
    {
        if (frame.Id is null || !_requests.Remove(frame.Id, out PendingRequest? request))
        {
            return;
        }

        if (request.Kind == RequestKind.History)
        {
            // The application's page: what was collected up to the stream's position, oldest first, at most the limit.
            long upTo = frame.Seq ?? 0;
            List<RelayMessage> messages = request.Collected!.Values.Where(m => m.Seq <= upTo).Take(request.Limit).ToList();
            string epoch = frame.Epoch ?? string.Empty;
            var page = new RelayHistoryPage(request.Group!, messages.Select(m => m.Epoch == epoch ? m : new RelayMessage(m.Group, m.From, epoch, m.Seq, m.Timestamp, m.Body)).ToList(),
                new RelayStreamPosition(epoch, upTo), frame.Complete ?? false);
            request.Completion?.TrySetResult(page);
            return;
        }

        if (request.Kind != RequestKind.CatchUp || request.Group is null
            || !_streams.TryGetValue(request.Group, out GroupStream? stream) || stream.CatchUp is not { } catchUp || catchUp.RequestId != request.Id)
        {
            return;
        }

        OnCatchUpPage(connection, stream, catchUp, frame.Epoch ?? string.Empty, frame.Seq ?? 0, frame.Complete ?? false, outputs);
    }

    /// <summary>
    /// One <c>history</c> answer while catching up (PROTOCOL.md section 6, item 3): hand over what is now contiguous,
    /// announce what is gone, and ask again while the page was cut by the limit or held frames still wait behind a gap.
    /// </summary>
    private void OnCatchUpPage(RelayConnection connection, GroupStream stream, CatchUp catchUp, string epoch, long seq, bool complete, List<object> outputs)
    {
        if (catchUp.Discarding)
        {
            // The answer to a request of the epoch before a reset: now read the new epoch from its start.
            catchUp.Discarding = false;
            catchUp.Held.Clear();
            RequestCatchUpPage(connection, stream, catchUp);
            return;
        }

        if (!string.Equals(epoch, stream.Epoch, StringComparison.Ordinal))
        {
            // The epoch changed under the catch-up: the rest of the old one is gone; read the new one from its start.
            Unrecovered(stream, stream.LastSeq + 1, RelayUnrecoveredReason.EpochChanged, new RelayStreamPosition(epoch, 1), outputs);
            stream.Epoch = epoch;
            stream.LastSeq = 0;
            catchUp.Held.Clear();
            catchUp.Target = seq;
            if (seq > 0)
            {
                RequestCatchUpPage(connection, stream, catchUp);
            }
            else
            {
                stream.CatchUp = null;
            }

            return;
        }

        long before = stream.LastSeq;
        HandOverContiguous(stream, catchUp, outputs);
        if (stream.LastSeq < seq && (complete || stream.LastSeq == before))
        {
            // Nothing more comes for the seqs from LastSeq + 1: they are no longer retained. Skip to the first one that is.
            long firstHeld = catchUp.Held.Count > 0 ? catchUp.Held.Keys.First() : long.MaxValue;
            long skipTo = firstHeld <= seq ? firstHeld - 1 : seq;
            Unrecovered(stream, stream.LastSeq + 1, RelayUnrecoveredReason.NotRetained, new RelayStreamPosition(stream.Epoch, skipTo + 1), outputs);
            stream.LastSeq = skipTo;
            HandOverContiguous(stream, catchUp, outputs);
        }

        if (stream.LastSeq < seq || catchUp.Held.Count > 0)
        {
            // Cut by the limit, or held frames behind a gap: the next page.
            RequestCatchUpPage(connection, stream, catchUp);
            return;
        }

        stream.CatchUp = null;
    }

    private static void HandOverContiguous(GroupStream stream, CatchUp catchUp, List<object> outputs)
    {
        SortedDictionary<long, RelayMessage> held = catchUp.Held;
        while (held.Count > 0)
        {
            KeyValuePair<long, RelayMessage> first = held.First();
            if (first.Key <= stream.LastSeq)
            {
                held.Remove(first.Key);
                continue;
            }

            if (first.Key != stream.LastSeq + 1)
            {
                return;
            }

            held.Remove(first.Key);
            stream.LastSeq = first.Key;
            RelayMessage message = first.Value;
            outputs.Add(message.Epoch == stream.Epoch ? message : new RelayMessage(message.Group, message.From, stream.Epoch, message.Seq, message.Timestamp, message.Body));
        }
    }

    private void Unrecovered(GroupStream stream, long firstMissing, RelayUnrecoveredReason reason, RelayStreamPosition resumesAt, List<object> outputs)
    {
        ClientLog.Unrecovered(_logger, stream.Group, firstMissing, stream.Epoch, reason.ToString());
        var args = new RelayUnrecoveredEventArgs(stream.Group, stream.Epoch, firstMissing, reason, resumesAt);
        outputs.Add(() => Raise(StreamUnrecovered, args, nameof(StreamUnrecovered)));
    }

    private void OnReset(string group, string epoch, long seq, List<object> outputs)
    {
        if (!_streams.TryGetValue(group, out GroupStream? stream))
        {
            return;
        }

        string previous = stream.Epoch;
        if (!string.Equals(previous, epoch, StringComparison.Ordinal))
        {
            if (stream.CatchUp is { } catchUp)
            {
                // Hand over what the old epoch still has in a row, then say the rest of it is gone.
                if (!catchUp.Discarding)
                {
                    HandOverContiguous(stream, catchUp, outputs);
                }

                if (stream.LastSeq < catchUp.Target || catchUp.Held.Count > 0)
                {
                    Unrecovered(stream, stream.LastSeq + 1, RelayUnrecoveredReason.EpochChanged, new RelayStreamPosition(epoch, seq + 1), outputs);
                }

                catchUp.Held.Clear();
                catchUp.Discarding = true;
            }

            stream.Epoch = epoch;
            stream.LastSeq = seq;
        }

        ClientLog.StreamReset(_logger, group, epoch);
        var args = new RelayStreamResetEventArgs(group, previous, new RelayStreamPosition(epoch, seq));
        outputs.Add(() => Raise(StreamReset, args, nameof(StreamReset)));
    }

    private void OnAdded(RelayConnection connection, string group, string epoch, long seq, List<object> outputs)
    {
        if (!_groups.Contains(group))
        {
            _groups = _groups.Append(group).ToList().AsReadOnly();
        }

        if (_streams.TryGetValue(group, out GroupStream? stream) && string.Equals(stream.Epoch, epoch, StringComparison.Ordinal))
        {
            if (seq > stream.LastSeq && stream.CatchUp is null)
            {
                StartCatchUp(connection, stream, seq);
            }
        }
        else
        {
            _streams[group] = new GroupStream(group, epoch, seq);
        }

        var args = new RelayGroupEventArgs(group, new RelayStreamPosition(epoch, seq));
        outputs.Add(() => Raise(GroupAdded, args, nameof(GroupAdded)));
    }

    private void OnPresence(ServerFrame frame, List<object> outputs)
    {
        if (frame.Id is not null)
        {
            if (!_requests.Remove(frame.Id, out PendingRequest? request))
            {
                return;
            }

            RelayPresenceSnapshot snapshot = ReadSnapshot(frame);
            foreach (string user in snapshot.Forbidden)
            {
                _watched.Remove(user);
            }

            var changes = new List<RelayPresenceEventArgs>();
            foreach (RelayUserPresence online in snapshot.Online)
            {
                Observe(online.User, true, online.Status, changes);
            }

            foreach (string offline in snapshot.Offline)
            {
                Observe(offline, false, null, changes);
            }

            if (request.Kind == RequestKind.RestoreWatch)
            {
                // After a reconnect: what changed while the client was away.
                foreach (RelayPresenceEventArgs change in changes)
                {
                    outputs.Add(() => Raise(PresenceChanged, change, nameof(PresenceChanged)));
                }
            }
            else
            {
                request.Completion?.TrySetResult(frame);
            }

            return;
        }

        if (frame.User is null || frame.Online.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            return;
        }

        bool isOnline = frame.Online.ValueKind == JsonValueKind.True;
        _presence[frame.User] = (isOnline, frame.Status);
        var args = new RelayPresenceEventArgs(frame.User, isOnline, frame.Status);
        outputs.Add(() => Raise(PresenceChanged, args, nameof(PresenceChanged)));
    }

    private void Observe(string user, bool online, string? status, List<RelayPresenceEventArgs> changes)
    {
        if (!_presence.TryGetValue(user, out (bool Online, string? Status) known) || known.Online != online || known.Status != status)
        {
            if (_presence.ContainsKey(user))
            {
                changes.Add(new RelayPresenceEventArgs(user, online, status));
            }

            _presence[user] = (online, status);
        }
    }

    private static RelayPresenceSnapshot ReadSnapshot(ServerFrame frame)
    {
        var online = new List<RelayUserPresence>();
        if (frame.Online.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement entry in frame.Online.EnumerateArray())
            {
                if (entry.ValueKind == JsonValueKind.Object && entry.TryGetProperty("user", out JsonElement user) && user.ValueKind == JsonValueKind.String)
                {
                    string? status = entry.TryGetProperty("status", out JsonElement s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
                    online.Add(new RelayUserPresence(user.GetString()!, status));
                }
            }
        }

        return new RelayPresenceSnapshot(online, (frame.Offline ?? new List<string>()).AsReadOnly(), (frame.Forbidden ?? new List<string>()).AsReadOnly());
    }
}
