// Streamed chats, written by hand beside the generated client (codegen/sdk/go). /v3/chat answers
// JSON (stream false) or Server-Sent Events (stream true), and the generated ChatExecute reads the
// whole body as JSON, so StreamChat reads the events as the server sends them.

package cozeplus

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Event is one Server-Sent Event: its name (conversation.chat.created,
// conversation.message.delta, ..., done) and its data (a chat or a message as JSON, or "[DONE]").
type Event struct {
	Event string
	ID    string
	Data  string
}

// Decode reads the event's JSON data into v (a map, or a model such as ChatMessage).
func (e Event) Decode(v interface{}) error {
	return json.Unmarshal([]byte(e.Data), v)
}

// StreamChat posts the chat with stream set and calls onEvent for each event as it arrives, until
// the stream ends, onEvent returns an error (which StreamChat returns), or ctx is done. A refusal
// comes back as a *GenericOpenAPIError holding the envelope's body.
func (a *ChatAPIService) StreamChat(ctx context.Context, request ChatRequest, onEvent func(Event) error) error {
	request.SetStream(true)
	base, err := a.client.cfg.ServerURLWithContext(ctx, "ChatAPIService.Chat")
	if err != nil {
		return &GenericOpenAPIError{error: err.Error()}
	}
	headers := map[string]string{"Content-Type": "application/json", "Accept": "text/event-stream"}
	req, err := a.client.prepareRequest(ctx, base+"/v3/chat", http.MethodPost, request, headers,
		url.Values{}, url.Values{}, nil)
	if err != nil {
		return err
	}
	resp, err := a.client.callAPI(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		body, _ := io.ReadAll(resp.Body)
		return &GenericOpenAPIError{body: body, error: resp.Status}
	}
	return readEvents(resp.Body, onEvent)
}

func readEvents(body io.Reader, onEvent func(Event) error) error {
	scanner := bufio.NewScanner(body)
	scanner.Buffer(make([]byte, 64*1024), 16<<20) // a message's data can be long
	event, data := Event{Event: "message"}, []string{}
	flush := func() error {
		if len(data) == 0 {
			return nil
		}
		event.Data = strings.Join(data, "\n")
		err := onEvent(event)
		event, data = Event{Event: "message"}, data[:0]
		return err
	}
	for scanner.Scan() {
		line := strings.TrimRight(scanner.Text(), "\r")
		if line == "" {
			if err := flush(); err != nil {
				return err
			}
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			event.Event = value
		case "data":
			data = append(data, value)
		case "id":
			event.ID = value
		}
	}
	if err := scanner.Err(); err != nil {
		return err
	}
	return flush()
}
