cwlVersion: v1.2
class: CommandLineTool
doc: Asks for 64 MiB of RAM and fills `mb` MiB.
requirements:
  ResourceRequirement: {coresMin: 0.1, ramMin: 64}
inputs:
  mb: int
baseCommand: [python3, -c, "import sys; x = b'x' * (int(sys.argv[1]) * 2**20); print('ok', len(x))"]
arguments: [$(inputs.mb)]
stdout: out.txt
outputs:
  out: stdout
