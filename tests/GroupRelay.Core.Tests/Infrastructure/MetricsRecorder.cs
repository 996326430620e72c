using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Linq;

namespace GroupRelay.Core.Tests.Infrastructure;

/// <summary>
/// Records the long measurements of the <c>GroupRelay</c> meter created by one <see cref="IMeterFactory"/>, so tests
/// that run in parallel (each with its own service provider and meter factory) never see each other's numbers.
/// </summary>
internal sealed class MetricsRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly List<(string Instrument, long Value, KeyValuePair<string, object?>[] Tags)> _measurements = new();
    private readonly List<(string Instrument, double Value, KeyValuePair<string, object?>[] Tags)> _recorded = new();
    private readonly List<Instrument> _instruments = new();

    public MetricsRecorder(IMeterFactory factory)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "GroupRelay" && ReferenceEquals(instrument.Meter.Scope, factory))
            {
                lock (_instruments)
                {
                    _instruments.Add(instrument);
                }

                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            lock (_measurements)
            {
                _measurements.Add((instrument.Name, value, tags.ToArray()));
            }
        });
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
        {
            lock (_recorded)
            {
                _recorded.Add((instrument.Name, value, tags.ToArray()));
            }
        });
        _listener.Start();
    }

    /// <summary>Every instrument of the meter (published so far).</summary>
    public IReadOnlyList<Instrument> Instruments
    {
        get
        {
            lock (_instruments)
            {
                return _instruments.ToArray();
            }
        }
    }

    /// <summary>The values a histogram recorded, optionally only those with a tag of the given value.</summary>
    public IReadOnlyList<double> Recorded(string instrument, string? tag = null, object? tagValue = null)
    {
        lock (_recorded)
        {
            return _recorded
                .Where(m => m.Instrument == instrument)
                .Where(m => tag is null || m.Tags.Any(t => t.Key == tag && Equals(t.Value, tagValue)))
                .Select(m => m.Value)
                .ToArray();
        }
    }

    /// <summary>Every attribute key any measurement carried.</summary>
    public IReadOnlyCollection<string> TagKeys()
    {
        lock (_measurements)
        {
            lock (_recorded)
            {
                return _measurements.SelectMany(m => m.Tags).Concat(_recorded.SelectMany(m => m.Tags)).Select(t => t.Key).ToHashSet();
            }
        }
    }

    /// <summary>Sum of the measurements of an instrument, optionally only those with a tag of the given value.</summary>
    public long Sum(string instrument, string? tag = null, object? tagValue = null)
    {
        lock (_measurements)
        {
            return _measurements
                .Where(m => m.Instrument == instrument)
                .Where(m => tag is null || m.Tags.Any(t => t.Key == tag && Equals(t.Value, tagValue)))
                .Sum(m => m.Value);
        }
    }

    public void Dispose() => _listener.Dispose();
}
