{{/* Resource names: the release name, suffixed per part. */}}
{{- define "fiberscope.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "fiberscope.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "fiberscope.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "fiberscope.s3Secret" -}}
{{- if .Values.s3.existingSecret -}}
{{- .Values.s3.existingSecret -}}
{{- else if and .Values.s3.accessKeyId .Values.s3.secretAccessKey -}}
{{- printf "%s-s3" (include "fiberscope.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* Refuses a pod grace period that would cut a worker's own shutdown grace short. */}}
{{- define "fiberscope.checkGrace" -}}
{{- if le (int .Values.worker.terminationGracePeriodSeconds) (int .Values.worker.shutdownGraceSeconds) -}}
{{- fail (printf "worker.terminationGracePeriodSeconds (%v) must exceed worker.shutdownGraceSeconds (%v), or Kubernetes kills a draining worker mid-batch" .Values.worker.terminationGracePeriodSeconds .Values.worker.shutdownGraceSeconds) -}}
{{- end -}}
{{- end -}}

{{/*
The pod template of a worker. Arguments: root (the chart context), component, queue (control or
sampling), taskQueue, provider, gpus, pool (resources, nodeSelector, tolerations, affinity).
*/}}
{{- define "fiberscope.workerPod" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
metadata:
  labels:
    {{- include "fiberscope.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
  annotations:
    checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
    {{- if $v.metrics.scrapeAnnotations }}
    prometheus.io/scrape: "true"
    prometheus.io/port: {{ $v.worker.httpPort | quote }}
    prometheus.io/path: /metrics
    {{- end }}
    {{- with $v.worker.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  terminationGracePeriodSeconds: {{ $v.worker.terminationGracePeriodSeconds }}
  {{- with $v.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $v.worker.podSecurityContext | nindent 4 }}
  containers:
    - name: worker
      image: {{ .pool.image | default (printf "%s:%s" $v.image.repository $v.image.tag) | quote }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      args:
        - --queue
        - {{ .queue }}
        {{- with .taskQueue }}
        - --task-queue
        - {{ . | quote }}
        {{- end }}
        {{- with .provider }}
        - --provider
        - {{ . }}
        {{- end }}
      envFrom:
        - configMapRef:
            name: {{ include "fiberscope.fullname" $root }}
        {{- with include "fiberscope.s3Secret" $root }}
        - secretRef:
            name: {{ . }}
        {{- end }}
      {{- with $v.worker.env }}
      env:
        {{- range $name, $value := . }}
        - name: {{ $name }}
          value: {{ $value | quote }}
        {{- end }}
      {{- end }}
      ports:
        - name: http
          containerPort: {{ $v.worker.httpPort }}
          protocol: TCP
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
        periodSeconds: 10
        timeoutSeconds: 5
        failureThreshold: 6
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
        periodSeconds: 5
        timeoutSeconds: 3
        failureThreshold: 2
      resources:
        {{- $resources := deepCopy (.pool.resources | default dict) }}
        {{- if gt (int .gpus) 0 }}
        {{- $_ := set $resources "requests" (merge (dict "nvidia.com/gpu" (int .gpus)) ($resources.requests | default dict)) }}
        {{- $_ := set $resources "limits" (merge (dict "nvidia.com/gpu" (int .gpus)) ($resources.limits | default dict)) }}
        {{- end }}
        {{- toYaml $resources | nindent 8 }}
      securityContext:
        {{- toYaml $v.worker.securityContext | nindent 8 }}
      volumeMounts:
        - name: cache
          mountPath: /var/cache/fiberscope
        {{- if $v.worker.config }}
        - name: config
          mountPath: /etc/fiberscope
          readOnly: true
        {{- end }}
  volumes:
    - name: cache
      emptyDir:
        sizeLimit: {{ $v.worker.cacheSizeLimit }}
    {{- if $v.worker.config }}
    - name: config
      configMap:
        name: {{ include "fiberscope.fullname" $root }}
        items:
          - key: worker.json
            path: worker.json
    {{- end }}
  {{- with .pool.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .pool.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .pool.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
