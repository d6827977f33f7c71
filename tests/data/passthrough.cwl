cwlVersion: v1.2
class: CommandLineTool
requirements:
  InitialWorkDirRequirement:
    listing: [$(inputs.source)]
baseCommand: "true"
inputs:
  source: File
outputs:
  out: {type: File, outputBinding: {glob: $(inputs.source.basename)}}
