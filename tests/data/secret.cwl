cwlVersion: v1.2
class: CommandLineTool
doc: Gets the secret `pw` on its command line and in its environment; writes only its sha256.
$namespaces:
  cwltool: http://commonwl.org/cwltool#
hints:
  cwltool:Secrets:
    secrets: [pw]
requirements:
  EnvVarRequirement:
    envDef:
      PW_ENV: $(inputs.pw)
inputs:
  pw: string
  fail: {type: string, default: "no"}
baseCommand: [sh, -c]
arguments:
  - 'test "$0" = "$PW_ENV" && printf %s "$0" | sha256sum | cut -c1-64 > digest.txt && test "$1" = no'
  - $(inputs.pw)
  - $(inputs.fail)
outputs:
  digest: {type: File, outputBinding: {glob: digest.txt}}
