using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Text;

namespace GroupRelay.LoadTest;

/// <summary>
/// A dependency-free SVG chart: fan-out deliveries/s and latency p99 per system and group size, as grouped bars.
/// (Plain SVG rather than a plotting package: nothing native to load on a CI machine.)
/// </summary>
internal static class SvgChart
{
    private static readonly string[] Colors = { "#1f77b4", "#d62728", "#ff9896", "#7f7f7f", "#bcbd22", "#2ca02c" };

    public static string Render(IReadOnlyList<ResultRow> results, IReadOnlyList<string> systems, string caption)
    {
        const int panelWidth = 520, panelHeight = 300, top = 60, left = 80;
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{2 * panelWidth + 2 * left}\" height=\"{panelHeight + top + 110}\" font-family=\"sans-serif\" font-size=\"12\">");
        svg.Append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left}\" y=\"22\" font-size=\"16\" font-weight=\"bold\">GroupRelay load test</text>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left}\" y=\"40\" font-size=\"10\">{WebUtility.HtmlEncode(caption)}</text>");
        Panel(svg, results, systems, "fanout", "Fan-out deliveries/s (higher is better)", r => r.DeliveriesPerSec, left, top, panelWidth - 40, panelHeight);
        Panel(svg, results, systems, "latency", "Latency p99 in ms (lower is better)", r => r.P99Ms, 2 * left + panelWidth, top, panelWidth - 40, panelHeight);
        for (int i = 0; i < systems.Count; i++)
        {
            int x = left + i * 185;
            int y = top + panelHeight + 70;
            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{x}\" y=\"{y - 10}\" width=\"12\" height=\"12\" fill=\"{Colors[i % Colors.Length]}\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x + 18}\" y=\"{y}\">{WebUtility.HtmlEncode(SystemNames.Display(systems[i]))}</text>");
        }

        svg.Append("</svg>");
        return svg.ToString();
    }

    private static void Panel(StringBuilder svg, IReadOnlyList<ResultRow> results, IReadOnlyList<string> systems, string scenario, string title, Func<ResultRow, double?> value, int x0, int y0, int width, int height)
    {
        List<ResultRow> rows = results.Where(r => r.Scenario == scenario && value(r) is double v && double.IsFinite(v)).ToList();
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x0}\" y=\"{y0 - 6}\" font-weight=\"bold\">{WebUtility.HtmlEncode(title)}</text>");
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{x0}\" y1=\"{y0 + height}\" x2=\"{x0 + width}\" y2=\"{y0 + height}\" stroke=\"black\"/>");
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x0}\" y2=\"{y0 + height}\" stroke=\"black\"/>");
        if (rows.Count == 0)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x0 + 20}\" y=\"{y0 + height / 2}\">no data</text>");
            return;
        }

        double max = rows.Max(r => value(r)!.Value) * 1.1;
        for (int t = 0; t <= 4; t++)
        {
            double tick = max * t / 4;
            double y = y0 + height - height * t / 4.0;
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{x0 - 4}\" y1=\"{y:0.#}\" x2=\"{x0 + width}\" y2=\"{y:0.#}\" stroke=\"#ddd\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x0 - 6}\" y=\"{y + 4:0.#}\" text-anchor=\"end\">{Short(tick)}</text>");
        }

        List<int> sizes = rows.Select(r => r.GroupSize ?? 0).Distinct().OrderBy(s => s).ToList();
        double groupWidth = width / (double)sizes.Count;
        double barWidth = groupWidth * 0.8 / Math.Max(1, systems.Count);
        for (int g = 0; g < sizes.Count; g++)
        {
            double gx = x0 + g * groupWidth + groupWidth * 0.1;
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{gx + groupWidth * 0.4:0.#}\" y=\"{y0 + height + 16}\" text-anchor=\"middle\">group of {sizes[g]}</text>");
            for (int s = 0; s < systems.Count; s++)
            {
                ResultRow? row = rows.FirstOrDefault(r => r.System == systems[s] && r.GroupSize == sizes[g]);
                if (row is null)
                {
                    continue;
                }

                double v = value(row)!.Value;
                double h = height * v / max;
                double bx = gx + s * barWidth;
                svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{bx:0.#}\" y=\"{y0 + height - h:0.#}\" width=\"{barWidth * 0.9:0.#}\" height=\"{h:0.#}\" fill=\"{Colors[s % Colors.Length]}\"/>");
                svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{bx + barWidth * 0.45:0.#}\" y=\"{y0 + height - h - 3:0.#}\" text-anchor=\"middle\" font-size=\"9\">{Short(v)}</text>");
            }
        }
    }

    private static string Short(double v) => v switch
    {
        >= 1_000_000 => (v / 1_000_000).ToString("0.##", CultureInfo.InvariantCulture) + "M",
        >= 10_000 => (v / 1000).ToString("0.#", CultureInfo.InvariantCulture) + "k",
        >= 100 => v.ToString("0", CultureInfo.InvariantCulture),
        _ => v.ToString("0.##", CultureInfo.InvariantCulture),
    };
}
