cwlVersion: v1.2
class: CommandLineTool
doc: Writes `mb` MiB of zeros to big.bin in its output directory.
requirements:
  ResourceRequirement: {coresMin: 0.1, ramMin: 16}
inputs:
  mb: int
baseCommand: [sh, -c, 'head -c "${0}M" /dev/zero > big.bin']
arguments: [$(inputs.mb)]
outputs:
  big: {type: File, outputBinding: {glob: big.bin}}
