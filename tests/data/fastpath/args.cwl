cwlVersion: v1.2
class: CommandLineTool
doc: every kind of binding the fast path plans, printed one argument a line
baseCommand: [printf, "%s\\n"]
arguments: [first, second]
inputs:
  s: {type: string, inputBinding: {position: 2, prefix: -s}}
  n: {type: int, inputBinding: {position: 1, prefix: "--n=", separate: false}}
  flag: {type: boolean, inputBinding: {prefix: -f}}
  off: {type: "boolean?", inputBinding: {position: 5, prefix: -x}}
  opt: {type: "string?", inputBinding: {position: 3}}
  dflt: {type: string, default: dee, inputBinding: {position: 4}}
  big: {type: long, inputBinding: {position: -1}}
  unbound: string
stdout: out.txt
outputs:
  out: stdout
  err: stderr
