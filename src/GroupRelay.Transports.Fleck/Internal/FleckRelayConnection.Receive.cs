using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text.Unicode;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using Fleck;
using Fleck.Handlers;
using GroupRelay.Transports;

namespace GroupRelay.Transports.Fleck.Internal;

// The receive side: frames parsed on Fleck's I/O path, queued with a bound, and fed in order to the session.
internal sealed partial class FleckRelayConnection
{
    private enum InboundKind
    {
        Text,
        Binary,
        TooLarge,
        Close,
    }

    /// <summary>Feeds the session the frames Fleck read, in order, until the transport ends.</summary>
    private async Task ReceiveLoopAsync(RelaySession session)
    {
        ChannelReader<Inbound> reader = _inbound.Reader;
        bool stopped = false;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out Inbound frame))
            {
                Interlocked.Add(ref _pendingBytes, -frame.Length);
                if (!stopped && _flooded)
                {
                    stopped = true;
                    session.Close(RelayCloseCodes.Flooding, "flooding");
                }

                if (stopped)
                {
                    continue;
                }

                switch (frame.Kind)
                {
                    case InboundKind.Text when !session.IsClosing:
                        await session.ReceiveTextAsync(frame.Payload).ConfigureAwait(false);
                        break;
                    case InboundKind.Binary when !session.IsClosing:
                        session.ReceiveBinary();
                        break;
                    case InboundKind.TooLarge:
                        session.ReceiveTooLarge();
                        stopped = true;
                        break;
                    case InboundKind.Close:
                        // The writer flushes what is queued and answers with the client's code; Fleck then closes and
                        // OnClose ends this loop. Not awaited: the answer completes when the transport has ended.
                        if (!session.IsClosing)
                        {
                            _ = session.ReceiveCloseAsync(frame.CloseCode);
                        }

                        stopped = true;
                        break;
                }
            }
        }
    }

    // ---- Fleck's I/O path: everything below runs on the thread that read the bytes, one call at a time. ----

    /// <summary>
    /// Replaces Hybi13's ReceiveData: our RFC 6455 frame reader (<see cref="Rfc6455FrameReader"/>, which says why), our
    /// frame handling, and a bound on what is buffered. <paramref name="data"/> is Fleck's buffer of what it received
    /// and not yet parsed; what was read is removed from it.
    /// </summary>
    private void OnData(List<byte> data)
    {
        Received();
        int offset = 0;
        try
        {
            while (!_discarding)
            {
                ReadOnlySpan<byte> unread = CollectionsMarshal.AsSpan(data)[offset..];
                FrameReadResult result = _frames.Read(unread, out int consumed, out FrameType type, out byte[] payload);
                offset += consumed;
                if (result == FrameReadResult.NeedMoreData)
                {
                    break;
                }

                if (result == FrameReadResult.TooLarge)
                {
                    TooLarge();
                    break;
                }

                OnFrame(type, payload);
            }
        }
        catch (WebSocketException ex)
        {
            // Fleck then reports OnError and closes with the exception's code: 1002, or 1007 for invalid UTF-8.
            _discarding = true;
            FleckTransportLog.ProtocolViolation(_server.Logger, _connectionId, ex.StatusCode, ex.Message);
            throw;
        }
        finally
        {
            if (_discarding)
            {
                data.Clear();
            }
            else
            {
                data.RemoveRange(0, offset);
            }
        }
    }

    private void OnFrame(FrameType type, byte[] payload)
    {
        if (_discarding)
        {
            return;
        }

        switch (type)
        {
            case FrameType.Text:
                // As Fleck's own text handling (Hybi13Handler.cs:192-203) and ASP.NET Core's: invalid UTF-8 closes with 1007.
                if (!Utf8.IsValid(payload))
                {
                    throw new WebSocketException(WebSocketStatusCodes.InvalidFramePayloadData, "a text message is not valid UTF-8 (RFC 6455 section 8.1)");
                }

                Enqueue(new Inbound(InboundKind.Text, payload, null));
                break;
            case FrameType.Binary:
                Enqueue(new Inbound(InboundKind.Binary, Array.Empty<byte>(), null));
                break;
            case FrameType.Close:
                // Fleck validates the close frame and throws on a bad one; onClose runs for a valid one.
                try
                {
                    Hybi13Handler.ProcessFrame(type, payload, static _ => { }, () => ClientClosed(payload), static _ => { }, static _ => { }, static _ => { });
                }
                catch (WebSocketException ex)
                {
                    // Fleck's exception has no message: say what was wrong, for the log line.
                    throw new WebSocketException(ex.StatusCode, "an invalid close frame: a 1-byte payload, a code that may not be sent, or a reason that is not UTF-8 (RFC 6455 sections 5.5.1, 7.4)", ex);
                }

                break;
            case FrameType.Ping:
                // Answered with a pong by Fleck's default OnPing; the reader let through no ping over 125 bytes.
                _socket.OnPing(payload);
                break;
            case FrameType.Pong:
                _socket.OnPong(payload);
                break;
        }
    }

    private void ClientClosed(byte[] payload)
    {
        int? code = payload.Length >= 2 ? (payload[0] << 8) | payload[1] : null;
        Enqueue(new Inbound(InboundKind.Close, Array.Empty<byte>(), code));

        // Nothing after a close frame counts (RFC 6455 section 5.5.1).
        _discarding = true;
    }

    private void TooLarge()
    {
        _discarding = true;
        Enqueue(new Inbound(InboundKind.TooLarge, Array.Empty<byte>(), null));
    }

    private void Enqueue(Inbound frame)
    {
        if (Interlocked.Add(ref _pendingBytes, frame.Length) > _maxPendingBytes && !_flooded)
        {
            _flooded = true;
            _discarding = true;
            FleckTransportLog.ReceiveBacklogExceeded(_server.Logger, _connectionId, _maxPendingBytes);
        }

        _inbound.Writer.TryWrite(frame);
    }

    private readonly record struct Inbound(InboundKind Kind, byte[] Payload, int? CloseCode)
    {
        // One byte more than the payload, so a flood of empty frames is bounded too.
        public int Length => Payload.Length + 1;
    }
}
