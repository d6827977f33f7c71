cwlVersion: v1.2
class: CommandLineTool
requirements:
  ResourceRequirement: {coresMin: 64}
baseCommand: "true"
inputs: []
outputs: []
