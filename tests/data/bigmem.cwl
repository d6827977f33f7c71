cwlVersion: v1.2
class: CommandLineTool
requirements:
  ResourceRequirement: {ramMin: 100000}
baseCommand: "true"
inputs: []
outputs: []
