/*
 * A recording stand-in for the declarative pipeline DSL, run by Groovy 2.4 (the
 * Groovy Jenkins runs). Each request on stdin is one JSON line {"text": <Jenkinsfile>};
 * the Jenkinsfile is compiled, then executed with every DSL call (pipeline, stage,
 * parallel, container, sh, input, ...) recorded as {name, args, children}. The answer is
 * one JSON line: {"ok": true, "calls": [...]} or {"ok": false, "error": "..."}.
 * Nothing of the real Jenkins is needed: the test checks what the script would ask for.
 */
import groovy.json.JsonOutput
import groovy.json.JsonSlurper
import org.codehaus.groovy.control.CompilerConfiguration
import org.codehaus.groovy.control.MultipleCompilationErrorsException

abstract class RecordingPipeline extends Script {
    List<Map> calls = []
    private List<List<Map>> open = []

    def methodMissing(String name, Object args) {
        Object[] argv = args as Object[]
        Map call = [name: name, args: [], children: []]
        Closure body = null
        argv.each { arg -> if (arg instanceof Closure) { body = arg } else { call.args << plain(arg) } }
        (open ? open[-1] : calls) << call
        if (body == null) {
            return call
        }
        if (name == 'expression') {
            call.value = body.call()
            return call
        }
        open << (List<Map>) call.children
        body.call()
        open.remove(open.size() - 1)
        return call
    }

    // `agent none`, `agent any`: bare words become symbols.
    def propertyMissing(String name) {
        return [symbol: name]
    }

    static Object plain(Object value) {
        if (value instanceof Map) {
            return value.collectEntries { k, v -> [(k.toString()): plain(v)] }
        }
        if (value instanceof List) {
            return value.collect { plain(it) }
        }
        if (value instanceof CharSequence) {
            return value.toString()
        }
        return value
    }
}

def config = new CompilerConfiguration()
config.scriptBaseClass = RecordingPipeline.name
def shell = new GroovyShell(this.class.classLoader, new Binding(), config)
def input = new BufferedReader(new InputStreamReader(System.in, 'UTF-8'))
def output = new PrintStream(new FileOutputStream(FileDescriptor.out), true, 'UTF-8')
def slurper = new JsonSlurper()
String line
while ((line = input.readLine()) != null) {
    Map answer
    try {
        def script = (RecordingPipeline) shell.parse(slurper.parseText(line).text as String)
        script.run()
        answer = [ok: true, calls: script.calls]
    } catch (MultipleCompilationErrorsException e) {
        answer = [ok: false, error: 'compile: ' + e.message]
    } catch (Throwable e) {
        answer = [ok: false, error: e.class.name + ': ' + e.message]
    }
    output.println(JsonOutput.toJson(answer))
}
