// Example validator in JavaScript: flags lines longer than a limit in any text document.
// The same behaviour as the Rust example (plugins/examples/line-length), built into a
// wasm32-wasip2 component by componentize-js against wit/1.0.0.

const MAX_FINDINGS = 500;
const SEVERITIES = new Set(["error", "warning", "info"]);
const SCHEMA = {
  type: "object",
  required: ["max"],
  properties: {
    max: { type: "integer", minimum: 1, maximum: 100000 },
    severity: { enum: ["error", "warning", "info"] },
  },
  additionalProperties: false,
};

const finding = (severity, code, message, path = "") => ({ severity, code, message, path, meta: "" });

// [max, severity], or throws the finding that says why.
function parseConfig(text) {
  let config;
  try { config = JSON.parse(text); } catch (e) {
    throw finding("error", "config.json", `config is not JSON: ${e.message}`);
  }
  const max = config && typeof config === "object" ? config.max : undefined;
  if (!Number.isInteger(max) || max < 1 || max > 100000) {
    throw finding("error", "config.max", "`max` must be an integer from 1 to 100000", "/max");
  }
  const severity = config.severity ?? "error";
  if (!SEVERITIES.has(severity)) {
    throw finding("error", "config.severity", `\`severity\` must be error, warning or info, not ${JSON.stringify(severity)}`, "/severity");
  }
  return [max, severity];
}

export function describe() {
  return {
    slug: "line-length-js",
    version: "0.1.0",
    name: "Line length (JavaScript)",
    description: "Flags lines longer than a limit (example plugin written in JavaScript).",
    contentTypes: ["*/*"],
    configSchema: JSON.stringify(SCHEMA),
  };
}

export function validateConfig(config) {
  try { parseConfig(config); } catch (f) { throw [f]; }
}

export function validate(input) {
  let max, severity;
  try { [max, severity] = parseConfig(input.config); } catch (f) {
    throw { code: "config.invalid", message: f.message };
  }
  const text = new TextDecoder().decode(input.content);
  // Lines as Rust's str::lines() cuts them: at \n, a trailing \r dropped, no empty last
  // line after a final newline. Lengths in code points, like Rust's chars().count().
  const parts = text.split("\n");
  if (parts[parts.length - 1] === "") parts.pop();
  const findings = [];
  let long = 0;
  parts.forEach((raw, i) => {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    const width = [...line].length;
    if (width > max) {
      long += 1;
      if (findings.length < MAX_FINDINGS) {
        findings.push(finding(severity, "line.too_long", `line ${i + 1} is ${width} characters long (max ${max})`, `${i + 1}:${max + 1}`));
      }
    }
  });
  if (long > findings.length) {
    findings.push(finding("warning", "line.truncated", `${long - findings.length} more long lines not listed`));
  }
  return {
    findings,
    outputs: [
      { name: "lines", value: JSON.stringify(parts.length), unit: undefined },
      { name: "long_lines", value: JSON.stringify(long), unit: undefined },
    ],
  };
}
