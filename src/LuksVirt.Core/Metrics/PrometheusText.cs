using System.Globalization;
using System.Text;

namespace LuksVirt.Core.Metrics;

/// <summary>
/// Writes Prometheus's text exposition format (version 0.0.4): each metric family once, its
/// HELP and TYPE lines first, then its samples; label values escaped as the format says
/// (backslash, double quote, line feed).
/// </summary>
internal sealed class PrometheusText
{
    private readonly StringBuilder _text = new();
    private string? _family;

    /// <summary>Starts a gauge family; its samples follow with <see cref="Sample"/>.</summary>
    public PrometheusText Gauge(string name, string help)
    {
        RequireName(name);
        _family = name;
        _text.Append("# HELP ").Append(name).Append(' ').Append(EscapeHelp(help)).Append('\n');
        _text.Append("# TYPE ").Append(name).Append(" gauge\n");
        return this;
    }

    /// <summary>One sample of the current family; labels as name/value pairs, in the order given.</summary>
    public PrometheusText Sample(double value, params (string Name, string Value)[] labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var family = _family ?? throw new InvalidOperationException("a sample needs its family's HELP and TYPE first");
        _text.Append(family);
        if (labels.Length > 0)
        {
            _text.Append('{');
            for (var i = 0; i < labels.Length; i++)
            {
                RequireName(labels[i].Name);
                _text.Append(i == 0 ? "" : ",").Append(labels[i].Name).Append("=\"").Append(EscapeLabelValue(labels[i].Value)).Append('"');
            }

            _text.Append('}');
        }

        _text.Append(' ').Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        return this;
    }

    public PrometheusText Sample(bool value, params (string Name, string Value)[] labels) => Sample(value ? 1 : 0, labels);

    public override string ToString() => _text.ToString();

    public static string EscapeLabelValue(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
    }

    private static string EscapeHelp(string help) =>
        help.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    /// <summary>Metric and label names are ours, fixed in the code: [a-zA-Z_][a-zA-Z0-9_]*.</summary>
    private static void RequireName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (char.IsAsciiDigit(name[0]) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
        {
            throw new ArgumentException($"'{name}' is not a valid Prometheus name", nameof(name));
        }
    }
}
